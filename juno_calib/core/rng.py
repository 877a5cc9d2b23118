"""Random-number discipline.

Only entry points (a chapter's parameter cell, the CLI, a test fixture) turn a seed into a
:class:`numpy.random.Generator` with :func:`make_rng`. Every stochastic function takes a
keyword-only ``rng``; independent streams come from :func:`spawn`. No global ``np.random``.
"""

from __future__ import annotations

import numpy as np


def make_rng(seed: int) -> np.random.Generator:
    """A PCG64 generator from a non-negative integer seed.

    >>> int(make_rng(1).integers(100)) == int(make_rng(1).integers(100))
    True
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {seed!r} ({type(seed).__name__})")
    if seed < 0:
        raise ValueError(f"seed = {seed} is outside the allowed range [0, inf)")
    return np.random.default_rng(int(seed))


def spawn(rng: np.random.Generator, n: int) -> list[np.random.Generator]:
    """``n`` statistically independent child generators of ``rng``."""
    return list(rng.spawn(n))


def legacy_random_state(rng: np.random.Generator) -> np.random.RandomState:
    """A ``RandomState`` seeded from ``rng`` (emcee 3 still draws from one)."""
    return np.random.RandomState(rng.integers(2**32, dtype=np.uint64))
