"""The docs site: it builds offline with warnings as errors and no broken cross-reference
(``sphinx-build -n -W``), the gallery has one card per tutorial in course order and each card
links to a page that exists, the CLI and API references are complete, and the front page,
rendered by headless Chromium, shows the cards.

The build (which also executes the notebooks, in fast mode) runs once per test session and is
shared with ``tests/test_notebooks.py``.
"""

from __future__ import annotations

import os
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
    """Collects the gallery cards (elements with class ``tutorial-card``): links and text."""

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
        elif "tutorial-card" in (attrs.get("class") or "").split():
            self.cards.append({"links": [], "text": ""})
            self._depth = 1

    def handle_endtag(self, tag):
        if self._depth and tag not in VOID:
            self._depth -= 1

    def handle_data(self, data):
        if self._depth:
            self.cards[-1]["text"] += data


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
    assert "A title" in cards[0]["text"] and "after" not in cards[0]["text"]


@pytest.mark.slow
def test_docs_build_without_warnings(built):
    warnings = [line for line in built.log.splitlines() if "WARNING:" in line or "ERROR:" in line]
    assert built.returncode == 0, "\n".join(warnings) or built.log[-3000:]
    assert not warnings


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
@pytest.mark.parametrize("stem", STEMS)
def test_tutorial_page_shows_executed_outputs(built, stem):
    page = (Path(built.html) / "tutorials" / f"{stem}.html").read_text(encoding="utf-8")
    assert "cell_output" in page
    assert "<img" in page  # a figure the notebook drew


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


@pytest.mark.slow
def test_front_page_in_headless_chromium_shows_the_cards(built, tmp_path):
    if not (os.access(CHROMIUM, os.X_OK) or shutil.which("chromium")):
        pytest.skip("chromium is not installed (CI installs it: apt-get install chromium)")
    exe = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    index = Path(built.html) / "index.html"
    flags = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--disable-dev-shm-usage", "--hide-scrollbars",
             f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,1600"]
    dom = subprocess.run([*flags, "--dump-dom", index.as_uri()], capture_output=True,
                         text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    cards = cards_of(dom.stdout)
    assert len(cards) == len(TUTORIALS)
    assert all(c["links"] for c in cards)

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
