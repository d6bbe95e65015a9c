"""The command line: every --help works, user errors are one line with a non-zero exit."""

import subprocess
import sys

import pytest

from nanonlp.cli import COMMANDS, GROUPS, main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_top_level_help(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "usage: nanonlp" in out and "tour" in out and "data" in out


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: " ".join(c.path))
def test_every_command_help(capsys, cmd):
    with pytest.raises(SystemExit) as e:
        main([*cmd.path, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert f"usage: nanonlp {' '.join(cmd.path)}" in out


@pytest.mark.parametrize("group", sorted({c.path[0] for c in COMMANDS if len(c.path) == 2}))
def test_every_group_help(capsys, group):
    assert group in GROUPS
    with pytest.raises(SystemExit) as e:
        main([group, "--help"])
    assert e.value.code == 0
    code, _, err = run(capsys, group)  # a group without a verb prints its help, exits 2
    assert code == 2 and f"usage: nanonlp {group}" in err


def test_user_error_is_one_line_no_traceback(capsys, no_real_data):
    code, out, err = run(capsys, "data", "path", "conll2003")
    assert code == 2
    assert err.startswith("nanonlp: error: data set 'conll2003': eng.train not found")
    assert err.count("\n") == 1 and "Traceback" not in err
    code, _, err = run(capsys, "data", "info", "no-such-set")
    assert code == 2 and err.startswith("nanonlp: error: unknown data set 'no-such-set'")


def test_data_list_and_path(capsys, no_real_data):
    code, out, _ = run(capsys, "data", "list")
    assert code == 0
    rows = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert "package" in rows["lee_corpus"] and "missing" in rows["conll2003"]
    code, out, _ = run(capsys, "data", "path", "lee")
    assert code == 0 and out.strip().endswith("lee_background.cor")


def test_data_info_verify(capsys, no_real_data):
    code, out, _ = run(capsys, "data", "info", "word_analogy", "--verify", "--head", "1")
    assert code == 0
    assert "sha256: ok" in out and "Analogy(a='Athens'" in out


def test_bad_flag_value_exits_2(capsys):
    with pytest.raises(SystemExit) as e:
        main(["tour", "--quick", "maybe"])
    assert e.value.code == 2
    assert "expected true/false, got 'maybe'" in capsys.readouterr().err


def test_console_script_and_module_entry_points(no_real_data):
    proc = subprocess.run([sys.executable, "-m", "nanonlp", "data", "info", "nope"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr == ("nanonlp: error: unknown data set 'nope'; known: tinyshakespeare, "
                           "eng-fra, multi30k, conll2003, text8, wikitext-2, brown, lee_corpus, "
                           "enwiki_sample, word_analogy, word_similarity, sst2, movie_reviews, "
                           "sentence_polarity\n")


def test_os_errors_are_one_line(capsys, tmp_path, monkeypatch):
    import nanonlp.cli as cli

    notdir = tmp_path / "file"
    notdir.write_text("x")

    def write_into_file(args):
        (notdir / "out.txt").write_text("never")

    monkeypatch.setattr(cli, "COMMANDS", [cli.Command(("data", "list"), "x", write_into_file)])
    code, _, err = run(capsys, "data", "list")
    assert code == 2
    assert err == f"nanonlp: error: {notdir / 'out.txt'}: Not a directory\n"


@pytest.mark.parametrize(("cmd", "out_dir"), [
    (("gpt", "train"), "runs/gpt"), (("bert", "pretrain"), "runs/bert"),
    (("bert", "finetune"), "runs/bert-finetune"), (("translate", "train"), "runs/translate")])
def test_help_shows_each_commands_own_output_folder(capsys, cmd, out_dir):
    """--train.out's shown default is the folder the command really writes to, not the shared
    TrainConfig's; and the preset commands say that a preset overrides the shown defaults."""
    with pytest.raises(SystemExit):
        main([*cmd, "--help"])
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    assert f"(default: '{out_dir}')" in out
    assert "a flag given here wins" in out
