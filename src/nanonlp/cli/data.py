"""``nanonlp data list|info|path|download``: the named data sets."""

from __future__ import annotations

import argparse
from itertools import islice

from nanonlp import datasets as D
from nanonlp.cli.common import Command, at_least, say
from nanonlp.datasets.store import candidates
from nanonlp.fileio import sha256_file


def _data_list(args: argparse.Namespace) -> None:
    rows = []
    for ds in D.DATASETS:
        where = D.found_in(ds)
        splits = ",".join(ds.splits) if len(ds.splits) <= 4 else f"{len(ds.splits)} splits"
        rows.append((ds.name, ds.record, splits, where, ds.title))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    say(f"{'name':<{widths[0]}}  {'records':<{widths[1]}}  {'splits':<{widths[2]}}  "
        f"{'found in':<{widths[3]}}  title")
    for r in rows:
        say(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  "
            f"{r[3]:<{widths[3]}}  {r[4]}")


def _data_info_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="data set name (see `nanonlp data list`)")
    p.add_argument("--verify", action="store_true", help="hash every file found against its sha256")
    p.add_argument("--head", type=at_least(0), default=0, metavar="N",
                   help="also print the first N records of the default split")


def _data_info(args: argparse.Namespace) -> None:
    ds = D.get_dataset(args.name)
    say(f"{ds.name}: {ds.title}")
    if ds.aliases:
        say(f"  aliases: {', '.join(ds.aliases)}")
    say(f"  records: {D.RECORD_KINDS[ds.record]}")
    say("  splits:  " + ", ".join(
        f"{s} ({ds.counts[s]:,})" if s in ds.counts else s for s in ds.splits))
    say(f"  source:  {ds.source}")
    say(f"  licence: {ds.licence}")
    if ds.notes:
        say(f"  notes:   {ds.notes}")
    say("  files:")
    for spec in ds.files:
        found = next(((h, p) for h, p in candidates(ds, spec) if p is not None and p.is_file()),
                     None)
        size = f"{spec.size:,} B" if spec.size else "size unknown"
        digest = spec.sha256[:12] + "..." if spec.sha256 else "unknown"
        say(f"    {spec.name}  ({size}, sha256 {digest})")
        say(f"      found:  {f'{found[0]}: {found[1]}' if found else 'no'}")
        for url in spec.urls:
            say(f"      url:    {url}")
        if args.verify and found:
            digest = sha256_file(found[1])
            ok = "ok" if spec.sha256 in (None, digest) else f"MISMATCH (got {digest})"
            say(f"      sha256: {ok}")
    if args.head:
        say(f"  first {args.head} records of {ds.default_split!r}:")
        for rec in islice(D.load(ds.name), args.head):
            say(f"    {rec!r}"[:200])


def _data_path_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="data set name")
    p.add_argument("--split", help="only the files this split reads")


def _data_path(args: argparse.Namespace) -> None:
    for path in D.locate(args.name, args.split).values():
        say(path)


def _data_download(args: argparse.Namespace) -> None:
    for fname, path in D.download(args.name, split=args.split).items():
        say(f"{fname}\t{path}")


COMMANDS: list[Command] = [
    Command(("data", "list"), "list the named data sets and where each is found", _data_list),
    Command(("data", "info"), "describe a data set: files, checksums, licence, splits, counts",
            _data_info, _data_info_args),
    Command(("data", "path"), "print the resolved path of each file of a data set", _data_path,
            _data_path_args),
    Command(("data", "download"), "download a data set's files into the cache (checksummed)",
            _data_download, _data_path_args,
            "Streams each missing file to a temporary file, checks its size and sha256, and "
            "renames it into the cache ($NANONLP_CACHE or ~/.cache/nanonlp). A failed or "
            "corrupt transfer leaves nothing behind."),
]
