"""The bench's metrics-cost figure: /me and the login API with metrics on against a server with
METRICS_ENABLED=false, round by round, in requests per portal core-second, goal ≥ 0.95."""

from __future__ import annotations

import pytest

from bench import report
from bench.run import metrics_cost_summary
from tests.bench.test_bench import _point, _results


def _run(ok: int, worker_cpu_s: float) -> dict:
    return {**_point(ok / 2), "ok": ok, "worker_cpu_s": worker_cpu_s}


def test_metrics_cost_compares_rounds_per_core_second():
    on = [_run(1000, 1.0), _run(900, 1.0), _run(1100, 1.1)]
    off = [_run(1000, 0.98), _run(1000, 1.0), _run(1000, 1.0)]
    summary = metrics_cost_summary(on, off)
    assert summary["ratios"] == pytest.approx([0.98, 0.9, 1.0])
    assert summary["ratio"] == pytest.approx(0.98)


def test_report_shows_both_figures_and_their_ratio():
    results = _results()
    point = {"on": _point(500), "off": _point(510), "ratios": [0.97, 0.99, 1.01], "ratio": 0.99}
    slow = {"on": _point(18), "off": _point(20), "ratios": [0.9, 0.92, 0.93], "ratio": 0.92}
    results["metrics_cost"] = {"me": point, "login": slow}
    rows = {row["figure"]: row for row in report.summary(results)}
    me = rows["GET /api/v1/me/ (JWT) /s with metrics on (per portal core-second)"]
    assert (me["value"], me["baseline"], me["met"]) == (500, "metrics off /s 510.0", True)
    assert me["ratio"] == "0.99 [0.97 to 1.01]"
    assert rows["Login API /s with metrics on (per portal core-second)"]["met"] is False
    assert "with metrics on" in report.markdown(results, "2026-01-02")


def test_report_of_a_run_without_the_figure_has_no_metrics_row():
    assert not any("metrics on" in row["figure"] for row in report.summary(_results()))
