"""The docs site: it builds offline with warnings as errors and no broken cross-reference
(``sphinx-build -n -W``), no page loads a script or stylesheet from the network (MathJax is
served with the site), the gallery has one card per tutorial in course order and each card
links to a page that exists, the playground page shows every screenshot, the CLI and API
references are complete, and, rendered by headless Chromium, the front page shows the cards,
each with a figure its notebook drew, equations are typeset offline, and a tutorial's code
cells fit a 1280 px window without scrolling sideways.

The build (which also executes the notebooks, in fast mode) runs once per test session and is
shared with ``tests/test_notebooks.py``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from test_notebooks import STEMS, TUTORIALS, shared_build

CHROMIUM = "/usr/bin/chromium"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return shared_build(tmp_path_factory)


class Cards(HTMLParser):
    """Collects the gallery cards (elements with class ``tutorial-card``): links, images and
    text."""

    def __init__(self):
        super().__init__()
        self.cards: list[dict] = []
        self._depth = 0  # open elements inside the current card (0: not in a card)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if self._depth:
            if tag not in VOID:
                self._depth += 1
            if tag == "a" and attrs.get("href"):
                self.cards[-1]["links"].append(attrs["href"])
            if tag == "img" and attrs.get("src"):
                self.cards[-1]["images"].append(attrs["src"])
        elif "tutorial-card" in (attrs.get("class") or "").split():
            self.cards.append({"links": [], "images": [], "text": ""})
            self._depth = 1

    def handle_endtag(self, tag):
        if self._depth and tag not in VOID:
            self._depth -= 1

    def handle_data(self, data):
        if self._depth:
            self.cards[-1]["text"] += data


class Assets(HTMLParser):
    """The scripts (``<script src>``) and stylesheets (``<link rel=stylesheet href>``) a page
    loads."""

    def __init__(self):
        super().__init__()
        self.scripts: list[str] = []
        self.stylesheets: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and attrs.get("src"):
            self.scripts.append(attrs["src"])
        elif tag == "link" and "stylesheet" in (attrs.get("rel") or "").split() \
                and attrs.get("href"):
            self.stylesheets.append(attrs["href"])


def assets_of(html: str) -> Assets:
    parser = Assets()
    parser.feed(html)
    return parser


def local_file(page: Path, url: str) -> Path:
    """The built file a relative URL of ``page`` names (query and fragment dropped)."""
    from urllib.parse import unquote, urlsplit

    return (page.parent / unquote(urlsplit(url).path)).resolve()


def cards_of(html: str) -> list[dict]:
    parser = Cards()
    parser.feed(html)
    return parser.cards


def test_card_parser_on_a_known_page():
    page = ('<div class="sd-card tutorial-card"><div class="t">A <b>title</b></div><img src=x>'
            '<a href="tutorials/a.html">x</a></div><p>after</p>'
            '<div class="tutorial-card"><a href="tutorials/b.html"></a></div>')
    cards = cards_of(page)
    assert [c["links"] for c in cards] == [["tutorials/a.html"], ["tutorials/b.html"]]
    assert [c["images"] for c in cards] == [["x"], []]
    assert "A title" in cards[0]["text"] and "after" not in cards[0]["text"]


@pytest.mark.slow
def test_docs_build_without_warnings(built):
    warnings = [line for line in built.log.splitlines() if "WARNING:" in line or "ERROR:" in line]
    assert built.returncode == 0, "\n".join(warnings) or built.log[-3000:]
    assert not warnings


def test_asset_parser_on_a_known_page():
    page = ('<link rel="stylesheet" href="_static/a.css?v=1"><link rel="icon" href="i.png">'
            '<script src="https://cdn.example/x.js" defer></script><script>var a;</script>')
    assets = assets_of(page)
    assert assets.scripts == ["https://cdn.example/x.js"]
    assert assets.stylesheets == ["_static/a.css?v=1"]
    assert local_file(Path("/s/t/p.html"), "../_static/a.css?v=1") == Path("/s/_static/a.css")


@pytest.mark.slow
def test_pages_load_no_script_or_stylesheet_from_the_network(built):
    """Every script and stylesheet is a file of the build (no CDN): the site works offline,
    equations included, since MathJax is served from ``_static/mathjax``."""
    html = Path(built.html)
    pages = sorted(html.rglob("*.html"))
    assert len(pages) > len(TUTORIALS)
    mathjax_pages = []
    for page in pages:
        assets = assets_of(page.read_text(encoding="utf-8"))
        for url in assets.scripts + assets.stylesheets:
            assert not url.startswith(("http:", "https:", "//")), (page, url)
            assert local_file(page, url).is_file(), (page, url)
        mathjax = [u for u in assets.scripts if "mathjax" in u.lower()]
        if mathjax:
            mathjax_pages.append(page.name)
            target = local_file(page, mathjax[0])
            assert target.name == "tex-chtml.js" and target.stat().st_size > 100_000, target
    # the tutorials with equations load it (pages without math do not need it)
    assert "word2vec-from-scratch.html" in mathjax_pages, mathjax_pages
    # what MathJax loads at run time lies beside it: fonts and the TeX extensions
    mathjax_dir = html / "_static" / "mathjax"
    assert list((mathjax_dir / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))
    assert (mathjax_dir / "input" / "tex" / "extensions" / "ams.js").is_file()


@pytest.mark.slow
def test_gallery_has_a_card_per_tutorial_linking_to_its_page(built):
    html = Path(built.html)
    cards = cards_of((html / "index.html").read_text(encoding="utf-8"))
    assert len(cards) == len(TUTORIALS)
    for card, tutorial in zip(cards, TUTORIALS):  # in course order
        assert tutorial["title"] in " ".join(card["text"].split())
        assert card["links"] == [f"tutorials/{tutorial['stem']}.html"]
        page = html / card["links"][0]
        assert page.is_file(), page
        assert tutorial["title"] in page.read_text(encoding="utf-8")


@pytest.mark.slow
def test_each_card_shows_the_first_figure_of_its_notebook(built):
    """The card's image is a file of the build, and the same file as the first figure the
    executed notebook shows on its page."""
    html = Path(built.html)
    index = html / "index.html"
    cards = cards_of(index.read_text(encoding="utf-8"))
    assert len(cards) == len(TUTORIALS)
    for card, tutorial in zip(cards, TUTORIALS):
        assert len(card["images"]) == 1, (tutorial["stem"], card["images"])
        image = local_file(index, card["images"][0])
        assert image.is_file() and image.parent == (html / "_images").resolve(), image
        assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", image
        page = html / card["links"][0]
        figures = [local_file(page, src) for src in
                   re.findall(r'<img[^>]*\bsrc="([^"]+)"', page.read_text(encoding="utf-8"))]
        assert figures and figures[0] == image, (tutorial["stem"], figures[:1], image)


@pytest.mark.slow
@pytest.mark.parametrize("stem", STEMS)
def test_tutorial_page_shows_executed_outputs(built, stem):
    page = (Path(built.html) / "tutorials" / f"{stem}.html").read_text(encoding="utf-8")
    assert "cell_output" in page
    assert "<img" in page  # a figure the notebook drew


@pytest.mark.slow
def test_playground_page_shows_every_screenshot(built):
    """``playground.html`` (linked from the front page) describes ``nanonlp serve`` and shows
    each screenshot of ``docs/_static/playground/``, as the same bytes."""
    html = Path(built.html)
    shots = sorted((Path(__file__).resolve().parents[1] / "docs" / "_static" / "playground")
                   .glob("*.png"))
    assert {s.stem for s in shots} >= {"home", "tokenizer", "vectors", "ner", "translate",
                                        "gpt", "bert"}
    assert 'href="playground.html"' in (html / "index.html").read_text(encoding="utf-8")
    page = html / "playground.html"
    text = page.read_text(encoding="utf-8")
    words = " ".join(re.sub(r"<[^>]+>", "", text).split())  # highlighting splits the code
    assert "nanonlp serve runs/ --open" in words and "make serve" in words
    images = [local_file(page, src) for src in re.findall(r'<img[^>]*\bsrc="([^"]+)"', text)]
    assert all(image.is_file() for image in images), images
    shown = {image.read_bytes() for image in images}
    for shot in shots:
        assert shot.read_bytes() in shown, shot.name


@pytest.mark.slow
def test_cli_reference_has_every_command_and_flag(built):
    import argparse

    from nanonlp.cli import COMMANDS, build_parser

    page = (Path(built.html) / "cli.html").read_text(encoding="utf-8")
    parser = build_parser()

    def sub(p, name):
        action = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
        return action.choices[name]

    for cmd in COMMANDS:
        assert f"nanonlp {' '.join(cmd.path)}" in page, cmd.path
        p = parser
        for part in cmd.path:
            p = sub(p, part)
        for action in p._actions:
            for flag in action.option_strings:
                if flag not in ("-h", "--help"):
                    assert flag in page, (cmd.path, flag)


@pytest.mark.slow
def test_api_reference_has_every_module(built):
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs" / "_ext"))
    try:
        from nanonlp_docs import api_modules
    finally:
        sys.path.pop(0)
    page = (Path(built.html) / "api.html").read_text(encoding="utf-8")
    modules = api_modules()
    assert {"nanonlp.bpe.reference", "nanonlp.word2vec.fast", "nanonlp.gpt.model"} <= set(modules)
    for name in modules:
        assert f'id="module-{name}"' in page, name
    assert 'id="nanonlp.bpe.tokenizer.Tokenizer.encode"' in page  # members, not just modules


def chromium_flags(tmp_path: Path) -> list[str]:
    """Headless Chromium at 1280 x 1600 with no network of its own, or skip."""
    if not (os.access(CHROMIUM, os.X_OK) or shutil.which("chromium")):
        pytest.skip("chromium is not installed (CI installs it: apt-get install chromium)")
    exe = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    return [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-dev-shm-usage", "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,1600"]


@pytest.mark.slow
def test_equations_render_offline_in_headless_chromium(built, tmp_path):
    """MathJax, loaded from the build, typesets every equation of a tutorial (no network:
    the page is a file and Chromium's own network use is off)."""
    page = Path(built.html) / "tutorials" / "word2vec-from-scratch.html"
    source = page.read_text(encoding="utf-8")
    n_math = source.count('class="math')  # MyST's inline and display math, before MathJax
    assert n_math > 0
    dom = subprocess.run([*chromium_flags(tmp_path), "--virtual-time-budget=20000",
                          "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert dom.stdout.count("<mjx-container") == n_math
    assert "<mjx-merror" not in dom.stdout  # a TeX error MathJax shows in place


MEASURE_CELLS = """<script>window.addEventListener("load", function () {
  var cells = [];
  document.querySelectorAll("div.cell pre").forEach(function (pre) {
    cells.push({input: pre.closest("div.cell_input") !== null, scroll: pre.scrollWidth,
                client: pre.clientWidth, wrap: getComputedStyle(pre).whiteSpace,
                start: pre.textContent.slice(0, 60)});
  });
  document.body.setAttribute("data-cells", JSON.stringify(cells));
});</script>"""


@pytest.mark.slow
@pytest.mark.parametrize("stem", STEMS)
def test_code_cells_fit_a_1280_px_window_without_scrolling(built, tmp_path, stem):
    """In headless Chromium at 1280 px, no cell's ``<pre>`` is wider than its box: the code
    keeps its lines (``white-space: pre``) and still fits; outputs may wrap. The page is
    measured as built, through a copy that adds a script and a ``<base>`` pointing at the
    build."""
    import html as html_lib
    import json

    page = Path(built.html) / "tutorials" / f"{stem}.html"
    source = page.read_text(encoding="utf-8")
    source = source.replace("<head>", f'<head><base href="{page.parent.as_uri()}/">', 1)
    copy = tmp_path / page.name
    copy.write_text(source.replace("</body>", MEASURE_CELLS + "</body>", 1), encoding="utf-8")
    dom = subprocess.run([*chromium_flags(tmp_path), "--virtual-time-budget=10000",
                          "--dump-dom", copy.as_uri()], capture_output=True, text=True,
                         timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    found = re.search(r'data-cells="([^"]*)"', dom.stdout)
    assert found, "the measuring script did not run"
    cells = json.loads(html_lib.unescape(found.group(1)))
    assert any(c["input"] for c in cells) and any(not c["input"] for c in cells)
    assert all(c["wrap"] == "pre" for c in cells if c["input"])  # fits, not wrapped
    wide = [c for c in cells if c["scroll"] > c["client"]]
    assert not wide, wide


@pytest.mark.slow
def test_front_page_in_headless_chromium_shows_the_cards(built, tmp_path):
    index = Path(built.html) / "index.html"
    flags = chromium_flags(tmp_path)
    dom = subprocess.run([*flags, "--dump-dom", index.as_uri()], capture_output=True,
                         text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    cards = cards_of(dom.stdout)
    assert len(cards) == len(TUTORIALS)
    assert all(c["links"] and c["images"] for c in cards)

    png = tmp_path / "front.png"
    shot = subprocess.run([*flags, f"--screenshot={png}", index.as_uri()], capture_output=True,
                          text=True, timeout=120)
    assert shot.returncode == 0 and png.is_file(), shot.stderr[-2000:]
    import matplotlib.image
    import numpy as np

    img = matplotlib.image.imread(png)[..., :3]  # (H, W, 3) floats in [0, 1]
    assert img.shape[:2] == (1600, 1280)
    # not blank: many distinct colours, and a good share of the page is not background
    colours = np.unique((img * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 50
    background = np.all(img == img[0, 0], axis=-1).mean()
    assert background < 0.97
