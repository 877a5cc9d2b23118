"""Every chapter page of the built book, opened offline in headless Chromium, as a reader sees it.

Run by ``make check-book`` after ``make book`` (a plain ``pytest`` does not collect this folder,
see ``tests/conftest.py``). The browser is the system's Chromium driven by Playwright (Playwright's
own browser download needs a network, the distribution's package does not); set
``JUNO_CALIB_CHROMIUM`` to use another. Without a browser or without a built book the run stops
with exit status 2 and says what to do; it never skips.

Each chapter of ``_toc.yml`` is loaded once from ``_build/html`` (``file://``, as a reader opens
``index.html``) with every request outside the book refused, a full-page screenshot is saved in
``_build/screenshots/``, and the tests assert on what the browser rendered: every table a code cell
printed is an HTML table with one row per table row (the expected tables are read from the
executed notebooks in the build's cache), no raw Markdown table or TeX is left in the text, MathJax
(shipped in ``_static``) typeset every formula with its own fonts, every image loaded, no output
shows a traceback or a warning, the headings form one hierarchy under one title, and long import
cells are folded.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from juno_calib.book.build import execute_settings, read_notebook, toc_files, toc_notebooks
from juno_calib.book.chapters import ROOT

BUILD = ROOT / "_build"
HTML = BUILD / "html"
CACHE = BUILD / ".jupyter_cache"  # the executed chapters (juno_calib.book.build)
SCREENSHOTS = BUILD / "screenshots"
# Headless and quiet: no GPU, no background traffic to any update or sync service.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
GET_A_BROWSER = """\
check-book needs Chromium and cannot find it.
  Debian/Ubuntu:  sudo apt-get install chromium
  elsewhere:      set JUNO_CALIB_CHROMIUM=/path/to/chromium (or chrome)
  with a network: .venv/bin/python -m playwright install chromium  (Playwright's own build)"""


def find_chromium() -> str | None:
    """The browser to drive: $JUNO_CALIB_CHROMIUM, /usr/bin/chromium, or one on the PATH."""
    given = os.environ.get("JUNO_CALIB_CHROMIUM")
    if given:
        return given if Path(given).is_file() else None
    if Path("/usr/bin/chromium").is_file():
        return "/usr/bin/chromium"
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class Chapter:
    """A chapter page: its notebook, HTML file and what its executed notebook says it shows."""

    name: str
    source: Path
    html: Path
    # (header cells, body rows) of every Markdown table a code cell printed, in order
    output_tables: list[tuple[list[str], int]] = field(default_factory=list)
    in_cache: bool = False  # the build's cache holds this chapter's executed notebook


def markdown_tables(text: str) -> list[tuple[list[str], int]]:
    """(header cells, number of body rows) of each pipe table in a Markdown text.

    >>> markdown_tables("| a | b |\\n|---|---|\\n| 1 | 2 |\\n| 3 | 4 |")
    [(['a', 'b'], 2)]
    """
    lines = text.splitlines()
    out = []
    for i in range(len(lines) - 1):
        if lines[i].lstrip().startswith("|") and re.match(r"^\s*\|(\s*:?-{3,}:?\s*\|)+\s*$", lines[i + 1]):
            header = [c.strip() for c in lines[i].strip().strip("|").split("|")]
            n = 0
            for line in lines[i + 2:]:
                if not line.lstrip().startswith("|"):
                    break
                n += 1
            out.append((header, n))
    return out


def _chapter(source: Path, cache) -> Chapter:
    rel = source.relative_to(ROOT).with_suffix("")
    chapter = Chapter(name=source.stem, source=source, html=HTML / rel.with_suffix(".html"))
    if cache is None:
        return chapter
    try:  # the executed notebook the page was rendered from, as the build cached it
        _, nb = cache.merge_match_into_notebook(read_notebook(source, execute_settings(ROOT)["extensions"]))
    except KeyError:
        return chapter
    chapter.in_cache = True
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            md = output.get("data", {}).get("text/markdown")
            if md is not None:
                chapter.output_tables += markdown_tables(md)
    return chapter


def book_chapters() -> list[Chapter]:
    """Every notebook page of ``_toc.yml``, in reading order."""
    from jupyter_cache import get_cache

    cache = get_cache(str(CACHE)) if CACHE.is_dir() else None
    return [_chapter(p, cache) for p in toc_notebooks(ROOT)]


@pytest.fixture(scope="session")
def built_book() -> Path:
    if not (HTML / "index.html").is_file():
        pytest.exit(f"no built book at {HTML}: run `make book` first", returncode=2)
    return HTML


@pytest.fixture(scope="session")
def browser(built_book):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.exit("check-book needs Playwright: .venv/bin/pip install -e '.[test]'", returncode=2)
    executable = find_chromium()
    if executable is None:
        pytest.exit(GET_A_BROWSER, returncode=2)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def other_pages(chapters: list[Chapter]) -> list[Chapter]:
    """The book's pages that are not notebooks (introduction, conventions, references)."""
    import yaml

    done = {c.source.with_suffix("") for c in chapters}
    out = []
    for entry in toc_files(yaml.safe_load((ROOT / "_toc.yml").read_text())):
        base = (ROOT / entry).with_suffix("")
        if base not in done and base.with_suffix(".md").is_file():
            rel = base.relative_to(ROOT)
            out.append(Chapter(name=rel.name, source=base.with_suffix(".md"), html=HTML / rel.with_suffix(".html")))
    return out


CHAPTERS = book_chapters()
IDS = [c.name for c in CHAPTERS]
# every page of the book: the chapters and the front and back matter
PAGES = CHAPTERS + other_pages(CHAPTERS)
PAGE_IDS = [p.name for p in PAGES]

# Everything the page shows and the tests read, gathered in the page once it has settled.
REPORT_JS = r"""
async () => {
  const main = document.querySelector("main article") || document.querySelector("main") || document.body;
  for (const img of document.images) { img.loading = "eager"; }
  await Promise.all([...document.images].map(img => img.decode().catch(() => null)));
  // the text a reader reads: no code, no typeset math (its hidden MathML), no scripts
  const prose = main.cloneNode(true);
  prose.querySelectorAll("pre, code, script, style, mjx-container, .cell_input")
       .forEach(e => e.remove());
  const outputs = [...main.querySelectorAll(".cell_output")];
  const tables = [];
  for (const out of outputs) {
    for (const t of out.querySelectorAll("table")) {
      tables.push({
        header: [...t.querySelectorAll("thead th")].map(th => th.innerText.trim()),
        rows: t.querySelectorAll("tbody tr").length,
      });
    }
  }
  const mathSpans = [...main.querySelectorAll("span.math, div.math")];
  const mj = window.MathJax;
  return {
    title: document.title,
    h1: [...main.querySelectorAll("h1")].map(h => h.innerText.replace("#", "").trim()),
    headings: [...main.querySelectorAll("h1, h2, h3, h4, h5, h6")].map(h => ({
      level: Number(h.tagName[1]), text: h.innerText.replace(/#$/, "").trim(),
      size: parseFloat(getComputedStyle(h).fontSize),
      weight: Number(getComputedStyle(h).fontWeight),
    })),
    prose: prose.innerText,
    tables: tables,
    math: mathSpans.length,
    mathTypeset: mathSpans.filter(e => e.querySelector("mjx-container")).length,
    mjxContainers: main.querySelectorAll("mjx-container").length,
    mathErrors: [...main.querySelectorAll("mjx-merror")].map(e => e.getAttribute("data-mjx-error") || e.innerText),
    mathjaxVersion: mj && mj.version ? mj.version : null,
    mathjaxSrc: [...document.scripts].map(s => s.src).filter(s => /mathjax/i.test(s)),
    mathFontsFailed: [...document.fonts].filter(f => /^MJX/.test(f.family) && f.status === "error")
                                        .map(f => f.family),
    mathFontsLoaded: [...document.fonts].filter(f => /^MJX/.test(f.family) && f.status === "loaded").length,
    images: [...main.querySelectorAll("img")].map(img => ({
      src: img.getAttribute("src"), width: img.naturalWidth, complete: img.complete,
    })),
    stderr: [...main.querySelectorAll(".cell_output .stderr, .cell_output .traceback")]
            .map(e => e.innerText.slice(0, 300)),
    outputText: outputs.map(o => o.innerText).join("\n"),
    // code cells of three or more import lines whose code a reader sees without a click
    importCellsShown: [...main.querySelectorAll(".cell .cell_input")]
      .filter(inp => (inp.textContent.match(/^(import|from) \S+/gm) || []).length >= 3)
      .filter(inp => inp.checkVisibility())
      .map(inp => inp.textContent.slice(0, 120)),
  };
}
"""
# Wait for MathJax's start-up typesetting (if the page loads MathJax) and for the fonts.
SETTLE_JS = """
async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  await document.fonts.ready;
  return true;
}
"""
LOCAL = ("file:", "data:", "blob:", "about:")


def _refuse_outside(log: list[str]):
    """A route handler that lets the book's own files through and refuses (and logs) the rest."""

    def handler(route):
        if route.request.url.startswith(LOCAL):
            route.continue_()
        else:  # offline: nothing outside the book may be fetched
            log.append(route.request.url)
            route.abort()

    return handler


@pytest.fixture(scope="module")
def pages(browser, built_book):
    """The report of every chapter page (loaded once), with the requests it tried off the book."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")
    reports = {}
    for chapter in PAGES:
        external: list[str] = []

        page = context.new_page()
        page.route("**/*", _refuse_outside(external))
        if not chapter.html.is_file():
            reports[chapter.name] = None
            continue
        page.goto(chapter.html.as_uri(), wait_until="load")
        page.evaluate(SETTLE_JS)
        report = page.evaluate(REPORT_JS)
        report["external"] = external
        page.screenshot(path=str(SCREENSHOTS / f"{chapter.name}.png"), full_page=True)
        page.close()
        reports[chapter.name] = report
    context.close()
    return reports


def _page(pages, chapter):
    report = pages[chapter.name]
    assert report is not None, f"{chapter.html} was not built"
    return report


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_code_cell_tables_are_html_tables(pages, chapter):
    report = _page(pages, chapter)
    assert chapter.in_cache, f"{chapter.name}: not in the build's cache {CACHE}: build the book with `make book`"
    assert chapter.output_tables, f"{chapter.name}: no Markdown table among the code-cell outputs (inputs table?)"
    shown = [(t["header"], t["rows"]) for t in report["tables"]]
    # every table a cell printed is an HTML table with the same columns and one row per table row
    i = 0
    for header, rows in chapter.output_tables:
        while i < len(shown) and (len(shown[i][0]), shown[i][1]) != (len(header), rows):
            i += 1
        assert i < len(shown), (
            f"{chapter.name}: the output table {header} ({rows} rows) is not shown as an HTML table "
            f"with {len(header)} columns and {rows} rows; HTML tables in outputs: {shown}"
        )
        i += 1
    inputs = [(h, n) for h, n in chapter.output_tables if h == ["parameter", "value", "source"]]
    assert inputs, f"{chapter.name}: no inputs table (parameter | value | source) among the outputs"
    for header, rows in inputs:
        assert (header, rows) in shown, f"{chapter.name}: the inputs table does not show its {rows} inputs as rows"


@pytest.mark.parametrize("chapter", PAGES, ids=PAGE_IDS)
def test_no_raw_markdown_or_tex_in_the_text(pages, chapter):
    prose = _page(pages, chapter)["prose"]
    for pattern, what in [
        # Sphinx's smart quotes turn a raw "|---|" into "|—|"
        (r"\|\s*:?[-—–]+:?\s*\|", "Markdown table rule |---|"),
        (r"\\\(|\\\)|\\\[|\\\]", "TeX delimiter \\( \\) \\[ \\]"),
        (r"\$\$", "TeX display delimiter $$"),
        (r"\$[^$\s][^$\n]*\$", "inline TeX $...$"),
        (r"\\(begin|end|frac|mathrm|sqrt|sigma|theta|alpha)\b", "TeX command"),
    ]:
        found = re.search(pattern, prose)
        assert not found, (
            f"{chapter.name}: raw {what} in the rendered text: "
            f"...{prose[max(0, found.start() - 80):found.end() + 80]}..."
        )


@pytest.mark.parametrize("chapter", PAGES, ids=PAGE_IDS)
def test_math_is_typeset_offline(pages, chapter):
    report = _page(pages, chapter)
    if report["math"] == 0:
        return  # a page without formulas (the book-wide test below asks for typeset math)
    assert report["mathjaxSrc"], f"{chapter.name}: the page has {report['math']} formulas but loads no MathJax"
    assert all(src.startswith("file:") for src in report["mathjaxSrc"]), (
        f"{chapter.name}: MathJax is not loaded from the book's own files: {report['mathjaxSrc']}"
    )
    assert report["mathjaxVersion"], f"{chapter.name}: MathJax did not start (offline)"
    assert report["mathTypeset"] == report["math"], (
        f"{chapter.name}: {report['math'] - report['mathTypeset']} of {report['math']} formulas not typeset"
    )
    assert report["mjxContainers"] >= report["math"], f"{chapter.name}: typeset math elements missing"
    assert not report["mathErrors"], f"{chapter.name}: TeX errors: {report['mathErrors']}"
    assert not report["mathFontsFailed"], f"{chapter.name}: MathJax fonts failed to load: {report['mathFontsFailed']}"


def test_the_book_has_typeset_math(pages):
    typeset = {name: r["mathTypeset"] for name, r in pages.items() if r is not None}
    assert sum(typeset.values()) > 0, f"no typeset formula in any chapter: {typeset}"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_every_image_loads(pages, chapter):
    images = _page(pages, chapter)["images"]
    assert images, f"{chapter.name}: no figure"
    broken = [img["src"] for img in images if not img["complete"] or img["width"] <= 0]
    assert not broken, f"{chapter.name}: images that did not load: {broken}"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_no_traceback_or_warning_in_outputs(pages, chapter):
    report = _page(pages, chapter)
    assert not report["stderr"], f"{chapter.name}: outputs on stderr or tracebacks: {report['stderr']}"
    found = re.search(r"Traceback \(most recent call last\)|\b\w*(Warning|Error):", report["outputText"])
    assert not found, (
        f"{chapter.name}: an output shows a traceback or warning: "
        f"...{report['outputText'][max(0, found.start() - 80):found.end() + 200]}..."
    )


@pytest.mark.parametrize("chapter", PAGES, ids=PAGE_IDS)
def test_one_title_and_a_consistent_heading_hierarchy(pages, chapter):
    report = _page(pages, chapter)
    assert len(report["h1"]) == 1, f"{chapter.name}: {len(report['h1'])} titles (h1): {report['h1']}"
    headings = report["headings"]
    assert headings[0]["level"] == 1, f"{chapter.name}: the page does not start with its title"
    for prev, cur in zip(headings, headings[1:], strict=False):
        assert cur["level"] <= prev["level"] + 1, (
            f"{chapter.name}: heading {cur['text']!r} (h{cur['level']}) skips a level after "
            f"{prev['text']!r} (h{prev['level']})"
        )
    # a deeper heading is never drawn larger or heavier than a shallower one
    style = {}
    for h in headings:
        style.setdefault(h["level"], (h["size"], h["weight"]))
    levels = sorted(style)
    for a, b in zip(levels, levels[1:], strict=False):
        (size_a, weight_a), (size_b, weight_b) = style[a], style[b]
        assert size_a > size_b and weight_a >= weight_b, (
            f"{chapter.name}: h{b} ({size_b:g} px, weight {weight_b:g}) is drawn as large or heavier "
            f"than h{a} ({size_a:g} px, weight {weight_a:g})"
        )


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_long_import_cells_are_folded(pages, chapter):
    shown = _page(pages, chapter)["importCellsShown"]
    assert not shown, f"{chapter.name}: import cells shown unfolded (tag them hide-input): {shown}"


@pytest.mark.parametrize("chapter", PAGES, ids=PAGE_IDS)
def test_page_needs_nothing_outside_the_book(pages, chapter):
    report = _page(pages, chapter)
    assert not report["external"], f"{chapter.name}: requests outside the book (offline): {report['external']}"
