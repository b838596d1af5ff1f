"""The benchmarks run: `python -m bench --quick` end to end (no figure is checked: they are
measurements, not tests), and the API benchmark reads wrk's report right."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import api, bulk, channels, lighthouse, peak, reminders
from bench.__main__ import SECTIONS
from bench.common import Figure, summary_table

ROOT = Path(__file__).resolve().parents[1]

WRK_REPORT = """Running 10s test @ http://127.0.0.1:8000/api/v1/me/checklist/
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    21.53ms    4.10ms  60.12ms   80.00%
    Req/Sec     2.97k   200.00     3.20k    70.00%
  Latency Distribution
     50%   20.90ms
     75%   23.00ms
     90%   26.00ms
     99%    1.02s
  29700 requests in 10.00s, 760.00MB read
  Socket errors: connect 0, read 29700, write 0, timeout 0
  Non-2xx or 3xx responses: 3
Requests/sec:   2970.00
Transfer/sec:     76.00MB
"""


def test_every_part_is_wired_into_the_one_command():
    assert SECTIONS == {"api": api, "channels": channels, "bulk": bulk, "reminders": reminders, "peak": peak,
                        "lighthouse": lighthouse}


def test_wrk_reports_are_read_right():
    result = api.parse_wrk(WRK_REPORT)
    assert (result.rate, result.requests, result.p50_ms, result.p99_ms) == (2970.0, 29700, 20.9, 1020.0)
    # Closed connections are how sync workers end each answer; a non-2xx answer is a failure.
    assert result.errors == 3


def test_lighthouse_reports_are_read_right():
    """The four scores against 100, LCP against 1.5 s, TBT against 0; a score that could not be had is 0, and said so."""
    titles = {"performance": "Performance", "accessibility": "Accessibility", "best-practices": "Best Practices",
              "seo": "SEO"}
    report = {
        "categories": {key: {"title": title, "score": 1.0} for key, title in titles.items()},
        "audits": {"largest-contentful-paint": {"numericValue": 1620.5}, "total-blocking-time": {"numericValue": 0}},
    }
    report["categories"]["performance"]["score"] = 0.97
    report["categories"]["seo"]["score"] = None
    figures = {f.name.split(": ")[1]: f for f in lighthouse.figures_of("home", report)}
    assert (figures["performance"].value, figures["performance"].passed) == (97, False)
    assert (figures["accessibility"].value, figures["accessibility"].passed) == (100, True)
    assert (figures["seo"].value, figures["seo"].passed, figures["seo"].note) == (0, False, "an audit failed to run")
    assert (figures["LCP"].value, figures["LCP"].passed) == (1.6205, False)
    assert figures["TBT"].passed is True


def test_the_summary_table_says_pass_fail_or_reported():
    table = summary_table([
        Figure("checklist", 600, "req/s", baseline=1000, baseline_name="floor", goal=0.5, goal_text=">= 0.5",
               limit=50, limit_value=80, limit_text="p99 < 50 ms"),
        Figure("revalidation", 900, "req/s", baseline=1000, baseline_name="floor", goal=0.8, goal_text=">= 0.8"),
        Figure("encryption", 0.2, "ms"),
    ])
    lines = table.splitlines()
    assert "FAIL" in next(line for line in lines if line.startswith("checklist"))  # the p99 misses
    assert "PASS" in next(line for line in lines if line.startswith("revalidation"))
    assert "(reported)" in next(line for line in lines if line.startswith("encryption"))


@pytest.mark.integration
def test_the_quick_mode_runs_end_to_end():
    """Every part but the API's load and the morning peak (both need wrk, which only a benchmarking machine has) and Lighthouse (npm)."""
    env = dict(os.environ, DEBUG="true")
    # The benchmarks make and drop scratch databases of their own on the same server.
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--skip", "api,peak,lighthouse", "--email-n", "40", "--push-n", "20"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for figure in ("email to a local SMTP server", "Web Push to the local push service", "bulk assign, 100 cases",
                   "in-app delivery (outbox, end to end)", "sweeper tick among 20,000 rows"):
        assert figure in done.stdout, figure
    assert "== summary" in done.stdout
