"""Bibliography labels that are the BibTeX keys, so they are unique across the book.

Every chapter ends with its own filtered bibliography. pybtex's default ``alpha`` labels
(``JUNOCollaborationA+22a``, ``...22b``) are assigned per bibliography, so two works of the same
authors and year get different suffixes in different chapters, and Sphinx then sees one label
for two works (a warning, which fails the ``-W`` build). The key (``JUNO:PPNP2022``) is unique
by construction and tells the reader what the work is.
"""

from pybtex.plugin import register_plugin
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle


class KeyLabelStyle(BaseLabelStyle):
    """Label = the entry's BibTeX key."""

    def format_labels(self, sorted_entries):
        for entry in sorted_entries:
            yield entry.key


class KeyLabelledStyle(UnsrtStyle):
    """pybtex's ``unsrt`` formatting with :class:`KeyLabelStyle` labels."""

    default_label_style = KeyLabelStyle


def setup(app):
    register_plugin("pybtex.style.labels", "bibkey", KeyLabelStyle)
    register_plugin("pybtex.style.formatting", "bibkey", KeyLabelledStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
