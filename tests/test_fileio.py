import gzip
import zipfile

import pytest

from nanonlp.errors import DataError
from nanonlp.fileio import (
    atomic_dir,
    atomic_write,
    iter_lines,
    iter_text_chunks,
    read_text,
    split_member,
)


def test_atomic_write_replaces_only_on_success(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_write(target) as f:
        f.write("half of the new cont")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]  # no temp file left
    with atomic_write(target) as f:
        f.write("new\n")
    assert target.read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_atomic_write_has_ordinary_permissions(tmp_path):
    import os

    target = tmp_path / "report.md"
    with atomic_write(target) as f:
        f.write("x")
    plain = tmp_path / "plain.md"
    plain.write_text("x")
    assert os.stat(target).st_mode == os.stat(plain).st_mode


def test_atomic_write_binary_and_new_folder(tmp_path):
    target = tmp_path / "a" / "b" / "x.bin"
    with atomic_write(target, "wb") as f:
        f.write(b"\x00\xff")
    assert target.read_bytes() == b"\x00\xff"


def test_iter_lines_crlf_and_numbers(tmp_path):
    p = tmp_path / "t.txt"
    p.write_bytes(b"a\r\nb\n\nc")
    assert list(iter_lines(p)) == [(1, "a"), (2, "b"), (3, ""), (4, "c")]


def test_invalid_utf8_names_file_and_line(tmp_path):
    p = tmp_path / "bad.txt"
    p.write_bytes(b"fine\nalso fine\nbro\xffken\n")
    with pytest.raises(DataError, match=r"bad.txt:3: not valid UTF-8 \(byte 0xff at column 4\)"):
        list(iter_lines(p))
    with pytest.raises(DataError, match=r"bad.txt:3: not valid UTF-8"):
        read_text(p)


def test_compressed_and_zip_members(tmp_path):
    gz = tmp_path / "t.txt.gz"
    with gzip.open(gz, "wt", encoding="utf-8") as f:
        f.write("héllo\nwörld\n")
    assert [line for _, line in iter_lines(gz)] == ["héllo", "wörld"]
    zp = tmp_path / "a.zip"
    with zipfile.ZipFile(zp, "w") as zf:
        zf.writestr("dir/m.txt", "x\ty\n")
    assert read_text(f"{zp}::dir/m.txt") == "x\ty\n"
    with pytest.raises(DataError, match=r"no member 'nope.txt'"):
        read_text(f"{zp}::nope.txt")
    assert split_member(f"{zp}::dir/m.txt")[1] == "dir/m.txt"


def test_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match=r"missing.txt: no such file"):
        list(iter_lines(tmp_path / "missing.txt"))


def test_text_chunks_never_cut_a_word(tmp_path):
    p = tmp_path / "one_line.txt"
    words = [f"w{i}" for i in range(5000)]
    p.write_text(" ".join(words))
    chunks = list(iter_text_chunks(p, chunk_chars=1000))
    assert len(chunks) > 5
    assert "".join(chunks).split() == words
    assert all(c.endswith(" ") for c in chunks[:-1])


def test_atomic_dir_swaps_whole_folders(tmp_path):
    target = tmp_path / "model"
    with atomic_dir(target) as d:
        (d / "config.json").write_text("1")
        (d / "weights").write_text("one")
    assert sorted(p.name for p in target.iterdir()) == ["config.json", "weights"]
    with pytest.raises(RuntimeError), atomic_dir(target) as d:
        (d / "config.json").write_text("2")
        raise RuntimeError("killed before the weights were written")
    assert (target / "config.json").read_text() == "1"  # the old folder, whole
    assert (target / "weights").read_text() == "one"
    with atomic_dir(target) as d:
        (d / "config.json").write_text("2")
    assert sorted(p.name for p in target.iterdir()) == ["config.json"]  # no stale weights
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # nothing left beside it
    plain = tmp_path / "plain"
    plain.mkdir()
    assert target.stat().st_mode == plain.stat().st_mode


@pytest.mark.parametrize("chunk_chars", [7, 1000, 1 << 20])
def test_text_chunks_name_the_line_of_bad_utf8(tmp_path, chunk_chars):
    p = tmp_path / "bad.txt"
    p.write_bytes(b"".join(b"line %d ok\n" % i for i in range(1, 40)) + b"caf\xe9\nmore\n")
    with pytest.raises(DataError, match=r"bad\.txt:40: not valid UTF-8 \(byte 0xe9"):
        list(iter_text_chunks(p, chunk_chars=chunk_chars))
