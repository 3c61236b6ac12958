"""``python -m powergrid robustness``: the rule-based controllers under message latency and loss."""
import csv

import pytest

from powergrid.__main__ import main


def test_the_sweep_writes_a_table_and_a_plot_and_degrades_as_documented(tmp_path, capsys):
    assert main(["robustness", "--latency", "0,1.5", "--loss", "0,0.5", "--days", "1", "--out", str(tmp_path)]) == 0
    rows = list(csv.DictReader(open(tmp_path / "robustness.csv")))
    assert [(float(r["latency"]), float(r["loss"])) for r in rows] == [(0, 0), (0, 0.5), (1.5, 0), (1.5, 0.5)]
    assert list(rows[0]) == ["latency", "loss", "return", "cost", "safety", "stale"]
    stale = {(float(r["latency"]), float(r["loss"])): float(r["stale"]) for r in rows}
    assert stale[(0, 0)] == 0.0  # nothing late or lost: nothing held
    assert 0.5 < stale[(0, 0.5)] < 1.0  # half the messages lost: most site-steps miss one of theirs
    assert stale[(1.5, 0)] == 1.0  # every message misses the 1 s deadline: every site-step is held
    assert (tmp_path / "robustness.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = capsys.readouterr().out
    assert "latency s   loss     return" in out and str(tmp_path / "robustness.png") in out


def test_bad_sweep_settings_are_named(capsys):
    with pytest.raises(SystemExit):
        main(["robustness", "--loss", "0,-1"])
    assert "expected comma-separated numbers >= 0, got '0,-1'" in capsys.readouterr().err


def test_without_matplotlib_it_says_how_to_install_it_before_sweeping(tmp_path, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    assert main(["robustness", "--days", "1", "--out", str(tmp_path)]) == 2
    assert "the robustness plot needs matplotlib: pip install -e '.[plot]'" in capsys.readouterr().err
    assert not (tmp_path / "robustness.csv").exists()
