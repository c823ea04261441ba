"""The bench's passkey figure: each signed answer is sent once, the two requests of a sign-in
are combined, and the report compares them with password sign-ins of the same rounds."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

import pytest

from bench import load, passkeys, report
from tests.bench.test_bench import _point, _results


def test_load_sends_each_single_use_body_once():
    bodies: list[bytes] = []

    class Record(BaseHTTPRequestHandler):
        def do_POST(self):
            bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Record)
    Thread(target=server.serve_forever, daemon=True).start()
    pool = [json.dumps({"n": n}) for n in range(5)]
    case = load.Case("/", method="POST", bodies_file=load.write_tokens(pool))
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        load.run(url, case, connections=1, seconds=1)
    finally:
        server.shutdown()
    sent = [body.decode() for body in bodies]
    answers = [body for body in sent if body != "{}"]  # past the pool: a body the server refuses
    # Each answer at most once, in order (wrk may build one request at start-up that it never
    # sends: that answer is lost, which the pool's margin covers).
    assert answers == [body for body in pool if body in answers]
    assert len(answers) >= len(pool) - 1
    assert sent[len(answers) :] == ["{}"] * (len(sent) - len(answers))


def test_passkey_sign_in_rate_combines_its_two_requests():
    assert passkeys.sign_ins_per_second(300.0, 100.0) == pytest.approx(75.0)
    assert passkeys.sign_ins_per_second(0.0, 100.0) == 0.0
    assert passkeys.pool_size(300.0, 4.0) >= 300 * 4


def test_report_compares_passkey_sign_ins_with_password_ones(tmp_path):
    results = _results()
    results["passkey"] = {
        **_point(100),
        "password_rps": 19.0,
        "ratio": 5.2,
        "ratios": [4.9, 5.2, 5.6],
        "per_core_ratios": [3.1, 3.3, 2.9],
        "samples": [95.0, 100.0, 104.0],
    }
    rows = {row["figure"]: row for row in report.summary(results)}
    row = rows["Passkey sign-ins /s (API: options + answer)"]
    assert (row["ratio"], row["goal"], row["met"]) == ("5.20 [4.90 to 5.60]", "≥ 5.00", True)
    per_core = rows["Passkey sign-ins per portal core-second"]
    assert (per_core["ratio"], per_core["met"]) == ("3.10 [2.90 to 3.30]", False)
    assert "Passkey sign-ins" in report.markdown(results, "2026-01-02")


def test_report_of_a_run_without_passkeys_has_no_passkey_row():
    figures = [row["figure"] for row in report.summary(_results())]
    assert not any("Passkey" in figure for figure in figures)
