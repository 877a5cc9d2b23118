"""The disk cache of tabulated quantities: a hit gives the same arrays, any change of an input
gives another key, and a damaged or foreign file is rebuilt, never trusted."""

from __future__ import annotations

import dataclasses

import numpy as np

from juno_calib.core import cache


def test_hit_returns_the_built_arrays_and_a_damaged_file_is_rebuilt(tmp_path):
    calls = []

    def build():
        calls.append(1)
        return {"x": np.arange(5.0)}

    a, hit_a = cache.cached("t", "k1", build, directory=tmp_path)
    b, hit_b = cache.cached("t", "k1", build, directory=tmp_path)
    assert (hit_a, hit_b, len(calls)) == (False, True, 1) and np.array_equal(a["x"], b["x"])
    path = cache.path_for("t", "k1", tmp_path)
    path.write_bytes(b"not an npz file")
    c, hit_c = cache.cached("t", "k1", build, directory=tmp_path)
    assert not hit_c and len(calls) == 2 and np.array_equal(c["x"], a["x"])
    assert not list(tmp_path.glob(".*tmp*")), "no temporary file left behind"


def test_a_file_written_for_other_inputs_is_not_read(tmp_path):
    # two keys with the same 24-character prefix share a file name: the stored key decides
    cache.save(cache.path_for("t", "a" * 64, tmp_path), "a" * 64, {"x": np.zeros(1)})
    assert cache.load(cache.path_for("t", "a" * 63 + "b", tmp_path), "a" * 63 + "b") is None


def test_the_response_key_changes_with_any_input(response):
    key = response._cache_key("total_map")
    assert key == response._cache_key("total_map")
    other = dataclasses.replace(response, optics=dataclasses.replace(response.optics,
                                                                     rayleigh_length=response.optics.rayleigh_length * 1.01))
    assert other._cache_key("total_map") != key, "a changed optical input gives a new table"
    assert dataclasses.replace(response, map_shape=(32, 9))._cache_key("total_map") != key
