"""``nanonlp tour``: a short end-to-end pass over every part."""

from __future__ import annotations

import argparse

from nanonlp.cli.common import Command, say
from nanonlp.cliargs import add_config_args, config_from_args
from nanonlp.tour import TourConfig, run_tour


def _tour_args(p: argparse.ArgumentParser) -> None:
    add_config_args(p, TourConfig)


def _tour(args: argparse.Namespace) -> None:
    report = run_tour(config_from_args(args, TourConfig))
    say(report)


COMMANDS: list[Command] = [
    Command(("tour",), "a short end-to-end pass over every part; writes a report folder", _tour,
            _tour_args, "Runs each built capability briefly on the data it can find "
            "(NANONLP_DATA, the cache, or the corpora packaged with gensim) and writes a "
            "markdown report with figures. Parts not built yet are listed as such."),
]
