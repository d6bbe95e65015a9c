"""Every verb of the command table, five bad inputs each (issue #22): a missing file, a folder
where a file belongs, an empty file, random bytes and invalid UTF-8 in place of every path or
name it takes (stdin holds invalid UTF-8 too); verbs that take no path get five bad flag values.
Each case exits 2 with one line ``nanonlp: error: ...``, no traceback, and no file written.

The cases are made from the parser itself, so a verb added to the table is swept too.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sys

import pytest

from nanonlp.cli import COMMANDS, build_parser, main

KINDS = ("missing", "folder", "empty", "garbage", "badutf8")
FILES = {"missing": "missing", "folder": "adir", "empty": "empty", "garbage": "garbage",
         "badutf8": "badutf8"}

#: verbs whose bad input goes elsewhere than every positional ({bad}: the bad path)
TEMPLATES = {
    ("word2vec", "similar"): ["the", "--vectors", "{bad}"],
    ("word2vec", "plot"): ["{bad}", "--words", "the", "cat", "--out", "{tmp}/w.png"],
    ("bert", "embed"): ["{bad}", "{bad}", "--out", "{tmp}/v.npy"],
    ("bert", "finetune"): ["{bad}", "--train", "{bad}"],
    ("ner", "convert"): ["{bad}", "{tmp}/out.spacy"],
}

#: verbs without a path argument: five bad values of their flags instead
FLAG_CASES = {
    ("tour",): [["--seed", "x"], ["--quick", "maybe"], ["--out", "{tmp}/empty"],
                ["--nosuch", "1"], ["--seed", "1.5"]],
    ("serve",): [["--bpe", "{tmp}/missing"], ["--gpt", "{tmp}/adir"],
                 ["--vectors", "{tmp}/garbage"], ["--bert", "{tmp}/empty"],
                 ["--port", "x"]],
    ("translate", "train"): [["--preset", "nosuch"], ["--train.lr", "nan"],
                             ["--train.max_steps", "0"], ["--budget_min", "x"],
                             ["--data.source", "{tmp}/missing"]],
    ("bert", "pretrain"): [["--preset", "nosuch"], ["--train.lr", "nan"],
                           ["--sources", "{tmp}/missing"], ["--tokenizer", "{tmp}/garbage"],
                           ["--mask_prob", "2"]],
    ("data", "list"): [["--nosuch"], ["extra"], ["-x"], ["--json", "1"], ["list"]],
    ("gpt", "prepare"): [["--source", "{tmp}/missing"], ["--source", "{tmp}/adir"],
                         ["--source", "{tmp}/empty"], ["--source", "{tmp}/garbage"],
                         ["--source", "{tmp}/badutf8"]],
}


def positionals(cmd) -> list[argparse.Action]:
    parser = build_parser()
    sub = parser
    for part in cmd.path:
        sub = next(a for a in sub._actions if isinstance(a, argparse._SubParsersAction)
                   ).choices[part]
    return [a for a in sub._actions if not a.option_strings and
            not isinstance(a, argparse._SubParsersAction)]


def cases():
    out = []
    for cmd in COMMANDS:
        args = positionals(cmd)
        if cmd.path in FLAG_CASES or not args:
            for i, flags in enumerate(FLAG_CASES.get(cmd.path, [])):
                out.append(pytest.param(list(cmd.path), flags, None,
                                        id=f"{'-'.join(cmd.path)}-flag{i}"))
            continue
        for kind in KINDS:
            out.append(pytest.param(list(cmd.path), len(args), kind,
                                    id=f"{'-'.join(cmd.path)}-{kind}"))
    return out


def test_every_verb_has_five_cases():
    per_verb = {}
    for p in cases():
        per_verb[tuple(p.values[0])] = per_verb.get(tuple(p.values[0]), 0) + 1
    assert {" ".join(c.path) for c in COMMANDS} == {" ".join(k) for k in per_verb}
    assert min(per_verb.values()) >= 5, per_verb


def _files(root):
    return {os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs}


@pytest.mark.parametrize("path, rest, kind", cases())
def test_bad_input_is_one_clean_line(path, rest, kind, tmp_path, capsys, monkeypatch,
                                     torch_one_thread):
    (tmp_path / "adir").mkdir()
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "garbage").write_bytes(random.Random(0).randbytes(3000))
    (tmp_path / "badutf8").write_bytes(b"caf\xe9 \xff\xfe au lait\n" * 3)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"\xff\xfe bad\n")))
    bad = str(tmp_path / FILES[kind]) if kind else ""
    template = rest if kind is None else TEMPLATES.get(tuple(path), ["{bad}"] * rest)
    argv = [*path, *(a.replace("{tmp}", str(tmp_path)).replace("{bad}", bad)
                     for a in template)]
    before = _files(tmp_path)
    try:
        code = main(argv)
    except SystemExit as e:  # refused by the parser: the same one line
        code = e.code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, (code, err[-1500:])
    assert "Traceback" not in err
    assert len(lines) == 1 and lines[0].startswith("nanonlp: error: "), err[-1500:]
    assert _files(tmp_path) == before, "files left behind"
