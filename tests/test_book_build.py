"""``juno-calib book``: the chapters of ``_toc.yml`` run in parallel into the book's cache, Sphinx
renders them from it without running them again, tables printed by code cells become HTML tables,
MathJax ships with the pages, and a failing cell fails the build."""

from __future__ import annotations

import re
import shutil
import textwrap

import pytest

from juno_calib.book.build import build_book, toc_notebooks
from juno_calib.book.chapters import NOTEBOOKS, ROOT

HEADER = textwrap.dedent(
    """\
    ---
    jupytext:
      text_representation:
        extension: .md
        format_name: myst
    kernelspec:
      display_name: Python 3
      language: python
      name: python3
    ---
    """
)
TABLE_CHAPTER = HEADER + textwrap.dedent(
    """\
    # A chapter with a table

    The fraction $x = 1/2$ of the events.

    ```{code-cell} ipython3
    from IPython.display import Markdown

    from juno_calib.core.params import markdown_table

    Markdown(markdown_table([("a", "1", "src A"), ("b", "2", "src B"), ("c", "$3$", "src C")]))
    ```
    """
)
FAILING_CHAPTER = HEADER + textwrap.dedent(
    """\
    # A chapter that fails

    ```{code-cell} ipython3
    raise RuntimeError("this cell fails on purpose")
    ```
    """
)


def _mini_book(tmp_path, chapters: dict[str, str]):
    """A book with the project's configuration and the given chapters (name -> text)."""
    shutil.copy(ROOT / "_config.yml", tmp_path / "_config.yml")
    shutil.copytree(ROOT / "_static", tmp_path / "_static")
    (tmp_path / "book").mkdir()
    shutil.copytree(ROOT / "book" / "_ext", tmp_path / "book" / "_ext")
    shutil.copy(ROOT / "book" / "references.bib", tmp_path / "book" / "references.bib")
    (tmp_path / "book" / "intro.md").write_text("# Mini book\n\nThe chapters of a test.\n")
    (tmp_path / "notebooks").mkdir()
    for name, text in chapters.items():
        (tmp_path / "notebooks" / f"{name}.md").write_text(text)
    toc = "format: jb-book\nroot: book/intro\nchapters:\n" + "".join(
        f"  - file: notebooks/{name}\n" for name in chapters
    )
    (tmp_path / "_toc.yml").write_text(toc)
    return tmp_path


def test_toc_notebooks_are_the_chapters_of_the_toc_in_reading_order():
    toc = (ROOT / "_toc.yml").read_text()
    listed = re.findall(r"file:\s*(notebooks/\S+)", toc)
    found = toc_notebooks(ROOT)
    assert [str(p.relative_to(ROOT).with_suffix("")) for p in found] == listed
    assert all(p.parent == NOTEBOOKS and p.suffix == ".md" for p in found)
    assert ROOT / "book" / "intro.md" not in found, "plain Markdown pages are not executed"


@pytest.mark.notebook
def test_book_runs_chapters_once_and_renders_output_tables_and_offline_math(tmp_path, capfd):
    noisy = TABLE_CHAPTER.replace("1/2", "1/3") + textwrap.dedent(
        """
        ```{code-cell} ipython3
        import sys
        print("a warning a reader would see", file=sys.stderr)
        ```
        """
    )
    book = _mini_book(tmp_path, {"01_table": TABLE_CHAPTER, "02_table_again": noisy})
    assert build_book(book, jobs=2) == 0
    out = capfd.readouterr().out
    assert re.search(r"01_table\.md: executed in [\d.]+ s", out), out
    assert re.search(r"02_table_again\.md: executed in [\d.]+ s", out), out
    assert "02_table_again.md: warning: a cell writes to stderr" in out, "stderr outputs are named"
    assert "01_table.md: warning" not in out
    # Sphinx found both chapters in the cache and ran neither again
    assert out.count("Using cached notebook") == 2, out
    assert "Executing notebook" not in out, out
    html = (book / "_build" / "html" / "notebooks" / "01_table.html").read_text()
    output = html[html.index('class="cell_output'):]
    table = output[output.index("<table"):output.index("</table>")]
    assert table.count("<tr") == 4, "the inputs table shows a header and one row per input"
    assert "|---|" not in html
    assert re.search(r'<script[^>]+src="\.\./_static/mathjax/tex-chtml\.js', html), "MathJax from the book's files"
    assert "cdn.jsdelivr" not in html
    assert (book / "_build" / "html" / "_static" / "mathjax" / "tex-chtml.js").is_file()


@pytest.mark.notebook
def test_a_failing_cell_fails_the_build_and_names_the_chapter(tmp_path, capfd):
    book = _mini_book(tmp_path, {"01_table": TABLE_CHAPTER, "02_fails": FAILING_CHAPTER})
    assert build_book(book, jobs=2) == 1
    out = capfd.readouterr().out
    assert "02_fails.md: FAILED" in out
    assert "this cell fails on purpose" in out, "the failing cell's error is printed"
    assert "01_table.md: executed" in out, "the other chapters still run"
    assert not (book / "_build" / "html").exists(), "no book is built from a failed chapter"


def test_jobs_below_one_is_refused(tmp_path):
    from juno_calib.book.build import execute_chapters

    with pytest.raises(ValueError, match="jobs = 0"):
        execute_chapters(ROOT, tmp_path, jobs=0)


def test_cli_refuses_jobs_below_one(capsys):
    from juno_calib.book.cli import main

    assert main(["book", "--jobs", "0"]) == 2
    assert "--jobs 0 must be at least 1" in capsys.readouterr().err


def test_bibliography_titles_carry_no_tex_math():
    """pybtex prints a title's TeX as raw text (and sentence case turns \\Delta into \\delta):
    titles write symbols in Unicode, in braces to keep their case, e.g. {Δm²₂₁}."""
    text = (ROOT / "book" / "references.bib").read_text()
    titles = re.findall(r"^\s*title\s*=\s*(.+)$", text, flags=re.MULTILINE | re.IGNORECASE)
    assert titles, "references.bib has titles"
    raw = [t for t in titles if "$" in t or re.search(r"\\[A-Za-z]+", t)]
    assert not raw, f"titles with TeX math that the book would show raw: {raw}"


def _cites(title: str, keys: str) -> str:
    return HEADER + f"# {title}\n\nAs shown {{cite}}`{keys}`.\n\n## References\n\n" + textwrap.dedent(
        """\
        ```{bibliography}
        :filter: docname in docnames
        ```
        """)


def test_same_author_same_year_works_in_two_chapter_bibliographies_build_cleanly(tmp_path, capfd):
    """Two JUNO Collaboration papers of 2022 cited together in one chapter and one of them alone in
    another: pybtex's alpha labels (...22a/...22b) would give one label to two works (a duplicate
    label warning fails the -W build); the labels are the BibTeX keys instead."""
    book = _mini_book(tmp_path, {"01_both": _cites("Both", "JUNO:SubPercent2022,JUNO:PPNP2022"),
                                 "02_one": _cites("One", "JUNO:PPNP2022")})
    assert build_book(book, jobs=1) == 0
    err = capfd.readouterr()
    assert "duplicate label" not in err.out + err.err
    html = (book / "_build" / "html" / "notebooks" / "01_both.html").read_text()
    assert "JUNO:SubPercent2022" in html and "JUNO:PPNP2022" in html
