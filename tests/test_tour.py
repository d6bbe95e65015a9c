import json

import pytest

from nanonlp.cli import main
from nanonlp.errors import ConfigError
from nanonlp.tour import PARTS, TourConfig, run_tour


def test_tour_data_part_offline(tmp_path, no_real_data):
    report = run_tour(TourConfig(out=str(tmp_path / "tour"), parts="data", quick=True),
                      progress=False)
    text = report.read_text()
    assert "## Named data sets" in text and "| lee_corpus | all | 300 | package |" in text
    assert (tmp_path / "tour" / "data_sets.png").stat().st_size > 1000
    data = json.loads((tmp_path / "tour" / "report.json").read_text())
    assert data["data"]["status"] == "ok"
    assert data["data"]["figures"][0]["data"]["lee_corpus/all"] == 300


def test_unbuilt_parts_are_listed(tmp_path, monkeypatch):
    import nanonlp.tour as tour

    monkeypatch.setattr(tour, "PARTS", (*PARTS, ("future", "8. Future part", "nanonlp.future.tour")))
    report = tour.run_tour(tour.TourConfig(out=str(tmp_path), parts="future"), progress=False)
    assert "| 8. Future part | not built |" in report.read_text()


def test_tour_cli_prints_report_path(tmp_path, capsys, monkeypatch):
    import nanonlp.tour as tour

    monkeypatch.setattr(tour, "PARTS", (("future", "8. Future part", "nanonlp.future.tour"),))
    assert main(["tour", "--out", str(tmp_path / "t"), "--parts", "future", "--quick", "true"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "t" / "report.md")


def test_tour_config_checks_parts():
    with pytest.raises(ConfigError, match=r"unknown tour part\(s\) \['gtp'\]"):
        TourConfig(parts="data,gtp")
