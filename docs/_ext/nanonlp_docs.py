"""Sphinx directives that generate the nanonlp pages from the code, so nothing is copied by hand.

``tutorial-gallery``
    One card per tutorial of ``tutorials/tutorials.json`` (staged from ``notebooks/`` by
    ``docs/build.py``), in course order, plus the hidden toctree that puts them in the sidebar.
    Each card shows the first figure its notebook drew when the build ran it (see
    :func:`fill_thumbnails`).
``nanonlp-cli``
    The command-line reference: one section per row of ``nanonlp.cli.COMMANDS``, with the
    usage line and every flag of the parser ``nanonlp.cli.build_parser()`` really builds.
``nanonlp-api``
    ``automodule`` for every module of the ``nanonlp`` package, found by walking it, so a new
    part appears in the API reference without editing the docs.

Two conventions of nanonlp's docstrings are honoured rather than rewritten: a short name in a
role (``:class:`DataError```) means the one nanonlp object of that name, wherever it lives (an
ambiguous or unknown name is still a broken reference), and a role may be followed directly by
a possessive (``:func:`save_gpt`'s``), which reStructuredText itself would reject.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import re
from pathlib import Path
from typing import ClassVar

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

_RST_SPECIAL = re.compile(r"([\\`*_|<>\[\]])")


def rst_escape(text: str) -> str:
    """Backslash-escape inline markup so JSON text shows as written.

    >>> rst_escape("the `spaCy` *pipeline*")
    'the \\\\`spaCy\\\\` \\\\*pipeline\\\\*'
    """
    return _RST_SPECIAL.sub(r"\\\1", text)


class _Generated(SphinxDirective):
    """A directive whose body is reStructuredText generated at build time."""

    def parse_rst(self, lines: list[str]) -> list[nodes.Node]:
        container = nodes.section()  # a throwaway parent that may hold sections
        container.document = self.state.document
        source = self.get_source_info()[0]
        self.state.nested_parse(StringList(lines, source=source), self.content_offset,
                                container, match_titles=True)
        return container.children


class tutorial_thumbnail(nodes.General, nodes.Element):  # docutils names nodes so
    """Where a gallery card shows its tutorial's first figure: a placeholder, because the
    notebooks run while their own pages are read, after the front page; ``fill_thumbnails``
    replaces it once every page has been read."""


class TutorialThumbnail(SphinxDirective):
    """``.. tutorial-thumbnail:: tutorials/<stem>``: the placeholder, inside a card (``:alt:``
    the image's text)."""

    required_arguments = 1
    option_spec: ClassVar[dict] = {"alt": str}

    def run(self) -> list[nodes.Node]:
        docname = self.arguments[0]
        # the front page is read again when a notebook changes: its figure may have too
        self.env.note_dependency(str(Path(self.env.srcdir) / f"{docname}.ipynb"))
        return [tutorial_thumbnail(docname=docname, alt=self.options.get("alt", ""))]


def first_figure(env, docname: str) -> nodes.image | None:
    """The first image a code cell of page ``docname`` output (an executed notebook's first
    figure, which MyST-NB saved as a file the builder copies to ``_images``), or None."""
    if docname not in env.all_docs:
        return None
    doctree = env.get_doctree(docname)
    for image in doctree.findall(nodes.image):
        if image["uri"] not in env.images:  # a remote or missing file
            continue
        parent = image.parent
        while parent is not None and "cell_output" not in parent.get("classes", ()):
            parent = parent.parent
        if parent is not None:
            return image
    return None


def fill_thumbnails(app, doctree, docname: str) -> None:
    """Replace each card's placeholder by a copy of its tutorial's first figure (the same
    file, so the builder copies it once), or drop it when the notebook drew none."""
    for node in list(doctree.findall(tutorial_thumbnail)):
        image = first_figure(app.env, node["docname"])
        if image is None:
            node.parent.remove(node)
            continue
        thumb = image.deepcopy()
        thumb["alt"] = node["alt"] or "a figure from this tutorial"
        thumb["classes"] = ["tutorial-thumbnail"]
        for option in ("width", "height", "scale", "align"):
            thumb.attributes.pop(option, None)
        node.replace_self(thumb)


class TutorialGallery(_Generated):
    """The front page's cards: title, one-line summary and the part of the library each uses."""

    option_spec: ClassVar[dict] = {"index": str}

    def run(self) -> list[nodes.Node]:
        index = Path(self.env.srcdir) / self.options.get("index", "tutorials/tutorials.json")
        self.env.note_dependency(str(index))
        entries = json.loads(index.read_text(encoding="utf-8"))
        lines = [".. grid:: 1 2 2 2", "   :gutter: 3", "   :class-container: tutorial-gallery",
                 ""]
        for n, e in enumerate(entries, 1):
            lines += [f"   .. grid-item-card:: {n}. {rst_escape(e['title'])}",
                      f"      :link: tutorials/{e['stem']}", "      :link-type: doc",
                      "      :class-card: tutorial-card", "      :shadow: md", "",
                      f"      .. tutorial-thumbnail:: tutorials/{e['stem']}",
                      f"         :alt: a figure from {e['title']}", "",
                      f"      {rst_escape(e['summary'])}", ""]
            if e.get("library"):  # the part of nanonlp it teaches (a plain last line: the
                # card footer syntax differs between sphinx-design versions)
                lines += ["      .. rst-class:: tutorial-uses", "",
                          f"      uses ``{e['library']}``", ""]
        lines += [".. toctree::", "   :hidden:", "   :caption: Tutorials", ""]
        lines += [f"   tutorials/{e['stem']}" for e in entries]
        return self.parse_rst(lines)


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _flag_rows(parser: argparse.ArgumentParser) -> list[tuple[str, str]]:
    """(flag with metavar, help with default) for each argument except --help."""
    formatter = parser._get_formatter()
    rows = []
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        if action.option_strings:
            flag = ", ".join(action.option_strings)
            if action.nargs != 0:
                flag += " " + formatter._format_args(action, action.dest.upper())
        else:
            flag = formatter._format_args(action, action.dest)
        text = formatter._expand_help(action) if action.help else ""
        default = action.default
        if (action.option_strings and action.nargs != 0 and default not in (None, "", [])
                and default is not argparse.SUPPRESS and "default" not in text):
            text = f"{text} (default: {default})".strip()
        rows.append((flag, text))
    return rows


class CliReference(_Generated):
    """Every ``nanonlp`` command, its usage and its flags, straight from the parser."""

    def run(self) -> list[nodes.Node]:
        from nanonlp.cli import COMMANDS, GROUPS, build_parser

        top = _subparsers(build_parser())
        lines: list[str] = []
        seen_groups: set[str] = set()
        for cmd in COMMANDS:
            name = "nanonlp " + " ".join(cmd.path)
            if len(cmd.path) == 2 and cmd.path[0] not in seen_groups:
                group = cmd.path[0]
                seen_groups.add(group)
                title = f"nanonlp {group}"
                lines += [title, "-" * len(title), "", rst_escape(GROUPS[group]), ""]
            parser = top[cmd.path[0]] if len(cmd.path) == 1 else \
                _subparsers(top[cmd.path[0]])[cmd.path[1]]
            under = "-" if len(cmd.path) == 1 else "~"
            lines += [name, under * len(name), "", rst_escape(cmd.description or cmd.help), ""]
            usage = parser.format_usage().strip().removeprefix("usage: ")
            lines += [".. code-block:: text", ""]
            lines += ["   " + u for u in usage.splitlines()]
            lines += [""]
            for flag, text in _flag_rows(parser):
                lines += [f"``{flag}``", f"   {rst_escape(text) or '(no help)'}", ""]
        return self.parse_rst(lines)


def api_modules(package: str = "nanonlp") -> list[str]:
    """Every importable module of ``package``, packages before their modules, sorted."""
    pkg = importlib.import_module(package)
    names = [package]
    for info in pkgutil.walk_packages(pkg.__path__, package + "."):
        if info.name.rsplit(".", 1)[-1].startswith("_"):
            continue  # __main__ and private modules
        names.append(info.name)
    return sorted(names, key=lambda n: n.split("."))


class ApiReference(_Generated):
    """``automodule`` with members for each module, grouped under its top-level part."""

    def run(self) -> list[nodes.Node]:
        lines: list[str] = []
        part = None
        for name in api_modules():
            parts = name.split(".")
            top = ".".join(parts[:2])
            if top != part:
                part = top
                lines += [f"``{top}``", "-" * (len(top) + 4), ""]
            lines += [f".. automodule:: {name}", "   :members:", ""]
        return self.parse_rst(lines)


_ROLE_THEN_WORD = re.compile(r"(:[a-z]+:`[^`]+`)(?=[\w'])")


def fix_possessives(app, what, name, obj, options, lines: list[str]) -> None:
    """``:func:`f`'s`` -> ``:func:`f`\\ 's`` (an escaped space: the possessive stays attached)."""
    lines[:] = [_ROLE_THEN_WORD.sub(r"\1\\ ", line) for line in lines]


def _home(dotted: str) -> str | None:
    """Where a re-exported object lives: ``nanonlp.training.Trainer`` ->
    ``nanonlp.training.loop.Trainer`` (None when the name does not import)."""
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
        return f"{module}.{qualname}" if module and qualname else None
    return None


def _shared_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a.split("."), b.split(".")):
        if x != y:
            break
        n += 1
    return n


def resolve_short_names(app, env, node, contnode):
    """Resolve a Python reference Sphinx could not: a re-exported name to the object's home,
    or a partly qualified name (``DataError``, ``Trainer.run``) to the nanonlp object whose
    full name ends with it, trying the role's own object type first and, among several, the
    one nearest the referring module."""
    if node.get("refdomain") != "py":
        return None
    target = re.sub(r"\s+", "", node.get("reftarget", "")).lstrip("~.")
    if not target:
        return None
    domain = env.get_domain("py")
    if target.startswith("nanonlp."):
        home = target if target in domain.objects else _home(target)
        if home is None or home not in domain.objects:
            return None
        return domain.resolve_xref(env, node.get("refdoc", ""), app.builder, node["reftype"],
                                   home, node, contnode)
    here = node.get("py:module") or ""
    order = {"class": ("class", "exception"), "exc": ("exception", "class"),
             "func": ("function", "method"), "meth": ("method", "function"),
             "mod": ("module",), "attr": ("attribute", "property"), "data": ("data",),
             "obj": ("class", "function", "exception", "data")}.get(node["reftype"], ())
    for objtype in order:
        hits = [full for full, obj in domain.objects.items()
                if full.startswith("nanonlp.") and full.endswith("." + target)
                and obj.objtype == objtype]
        if not hits:
            continue
        best = max(_shared_prefix(h, here) for h in hits)
        hits = [h for h in hits if _shared_prefix(h, here) == best]
        if len(hits) > 1:
            return None  # ambiguous: Sphinx reports it
        return domain.resolve_xref(env, node.get("refdoc", ""), app.builder, node["reftype"],
                                   hits[0], node, contnode)
    return None


def setup(app):
    app.connect("autodoc-process-docstring", fix_possessives)
    app.connect("missing-reference", resolve_short_names)
    app.add_node(tutorial_thumbnail)
    app.connect("doctree-resolved", fill_thumbnails)
    app.add_directive("tutorial-gallery", TutorialGallery)
    app.add_directive("tutorial-thumbnail", TutorialThumbnail)
    app.add_directive("nanonlp-cli", CliReference)
    app.add_directive("nanonlp-api", ApiReference)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
