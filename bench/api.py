"""Patient API benchmark: `python -m bench.api` (part of `make bench`).

Starts the web server as production runs it (gunicorn, 2 sync workers, DEBUG off, persistent
database connections) on a scratch database holding the demo clinic, signs the demo patient in
with her invitation code, and loads the server from wrk (64 connections, loopback) with:

  floor       a view of the same process that returns the checklist's bytes (no authentication,
              no query): what any answer of this size costs in this stack; measured right before
              and right after the checklist's two figures, which are compared with the mean;
  checklist   GET /api/v1/me/checklist/ with the patient's session: the full read;
  304         the same with If-None-Match: the validator only;
  state       GET /api/v1/me/checklist/state/, what the app reads after each change, against a
              floor of its own (the same view returning the state's bytes);
  complete    POST /api/v1/me/tasks/{id}/complete/ and /reopen/ in turn over every step;
  case, inbox, me   the other reads of the home screen.

The secrets production insists on (SECRET_KEY, …) are made up here for this run and never
written anywhere. Everything happens on loopback.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess  # nosec B404  # runs wrk, a fixed local program
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench.common import Figure, Proc, drop_database, free_port, print_figure, recreate_database, require_services, scratch

DB_NAME = scratch("bench_api")
CONNECTIONS = 64
WORKERS = 2
# The goals: the checklist read (the combined answer, and the state the app reads) at least half
# the floor's rate with p99 under 50 ms, the revalidation (304) at least 0.8 of the floor; a
# tick at least a quarter of the floor, its p99 within 4 times the read's.
CHECKLIST_GOAL, CHECKLIST_P99_MS, NOT_MODIFIED_GOAL = 0.5, 50.0, 0.8
TICK_GOAL, TICK_P99_TIMES_READ = 0.25, 4.0


@dataclass
class WrkResult:
    rate: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # non-2xx/3xx answers and socket errors


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip()).groups()
    return float(number) * _UNITS[unit]


def parse_wrk(output: str) -> WrkResult:
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))
    errors = 0
    if m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output):
        errors += int(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output):
        # "read" errors are the server closing the connection after each answer (sync workers
        # do not keep connections alive): not failures.
        errors += int(m.group(1)) + int(m.group(3)) + int(m.group(4))
    return WrkResult(rate, p50, p99, requests, errors)


class Server:
    """gunicorn serving the project with production settings and throwaway secrets."""

    def __init__(self, logdir: str, floor_body: Path, state_floor_body: Path | None = None, *, workers: int,
                 worker_class: str, threads: int, extra_env: dict[str, str] | None = None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(
            os.environ,
            DJANGO_SETTINGS_MODULE="bench.web_settings",
            DEBUG="false",
            # Made up for this run only (production refuses to start without them).
            ALLOWED_HOSTS="127.0.0.1",
            SITE_URL="https://127.0.0.1",
            EMAIL_URL="smtp://127.0.0.1:25",
            # As behind the TLS-terminating proxy production runs behind: the requests say https.
            TRUSTED_PROXY_COUNT="1",
            BENCH_FLOOR_BODY=str(floor_body),
            BENCH_FLOOR_STATE_BODY=str(state_floor_body or floor_body),
            LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
        )
        env.pop("DB_CONN_MAX_AGE", None)  # the production default
        env.update(extra_env or {})
        args = [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
                "--workers", str(workers), "--worker-class", worker_class, "--log-level", "warning"]
        if worker_class == "gthread":
            args += ["--threads", str(threads)]
        self.proc = Proc("gunicorn", args, env, logdir)
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=10) as response:  # nosec B310  # loopback
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if self.proc.proc.poll() is not None or time.monotonic() > deadline:
                log = self.proc.log_path.read_text(errors="replace")[-3000:]
                self.proc.stop()  # never leave it behind
                raise SystemExit(f"gunicorn did not start:\n{log}")
            time.sleep(0.2)

    def stop(self):
        self.proc.stop()


class Patient:
    """The demo patient's session, signed in through the API as the app does."""

    def __init__(self, base: str, code: str):
        import requests

        self.base = base
        self.http = requests.Session()
        self.http.headers.update({"X-Forwarded-Proto": "https", "Origin": f"https://127.0.0.1:{base.rsplit(':', 1)[1]}"})
        response = self.http.post(f"{base}/api/v1/auth/invitation/", json={"code": code}, timeout=10)
        response.raise_for_status()
        self.csrf = response.json()["csrf_token"]
        # The cookies are marked Secure (https only); the proxy's https is pretended, so send them by hand.
        self.cookie = "; ".join(f"{c.name}={c.value}" for c in self.http.cookies)
        self.http.cookies.clear()
        self.http.headers["Cookie"] = self.cookie

    def get(self, path: str, **headers):
        return self.http.get(f"{self.base}{path}", headers=headers, timeout=10)

    def headers(self) -> list[str]:
        return ["X-Forwarded-Proto: https", f"Cookie: {self.cookie}", f"X-CSRFToken: {self.csrf}",
                f"Origin: https://127.0.0.1:{self.base.rsplit(':', 1)[1]}"]


def drain(base: str) -> None:
    """Wait until the server has worked off what an earlier run left queued.

    wrk closes its connections when its time is up, but sync workers still answer every request
    already accepted, in order: a run started before that backlog is gone would time its tail.
    A request sent now is answered once the backlog is.
    """
    with urllib.request.urlopen(f"{base}/healthz", timeout=120) as response:  # nosec B310  # loopback
        response.read()


def wrk(url: str, headers: list[str], seconds: float, *, script: str | None = None, warmup: float = 2.0) -> WrkResult:
    binary = shutil.which("wrk")
    if binary is None:
        raise SystemExit("wrk is needed for the API benchmark (apt-get install wrk)")
    base = [binary, "-t1", f"-c{CONNECTIONS}", "--latency", "--timeout", "10s"]
    for header in headers:
        base += ["-H", header]
    if script:
        base += ["-s", script]
    origin = url.split("/", 3)
    origin = f"{origin[0]}//{origin[2]}"
    if warmup:
        drain(origin)
        run_wrk([*base, f"-d{max(1, int(warmup))}s", url])
    drain(origin)
    out = run_wrk([*base, f"-d{max(1, int(seconds))}s", url])
    result = parse_wrk(out)
    if result.errors:
        raise SystemExit(f"wrk saw {result.errors} failed requests on {url}:\n{out}")
    return result


def run_wrk(args: list[str]) -> str:
    # Fixed arguments to a local program, on a loopback address (bandit B603).
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout  # nosec B603


TOGGLE_SCRIPT = """
-- Each request ticks a step off or undoes it, going round every step of the checklist.
local ids = {%s}
local n = 0
request = function()
  local i = n %% #ids + 1
  local action = (math.floor(n / #ids) %% 2 == 0) and "complete" or "reopen"
  n = n + 1
  return wrk.format("POST", "/api/v1/me/tasks/" .. ids[i] .. "/" .. action .. "/", nil, "")
end
"""


def single_latency(patient: Patient, path: str, runs: int) -> float:
    """Median time of one request with nothing else running (ms)."""
    timings = []
    for _ in range(runs):
        t0 = time.perf_counter()
        patient.get(path).raise_for_status()
        timings.append((time.perf_counter() - t0) * 1000)
    return statistics.median(timings)


def prepare_database() -> None:
    """The scratch database with the demo clinic (the demo patient's checklist, ~27 steps)."""
    import django
    from django.core.management import call_command

    recreate_database(DB_NAME)
    # Made up for this run, in this process's environment only: the server it starts signs
    # sessions with it, and the demo's invitation code is stored keyed with it.
    os.environ["SECRET_KEY"] = secrets.token_urlsafe(64)
    os.environ["BENCH_DB_NAME"] = DB_NAME
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    django.setup()
    from django.conf import settings

    settings.DATABASES["default"]["NAME"] = DB_NAME
    settings.SECRET_KEY = os.environ["SECRET_KEY"]  # when another part set Django up first
    call_command("migrate", verbosity=0)
    call_command("seed_demo", stdout=io.StringIO())


def run(args, results: list[Figure]) -> None:
    prepare_database()
    from prepapp.management.commands.seed_demo import DEMO_PATIENT_CODE

    logdir = tempfile.mkdtemp(prefix="bench-api-")
    floor_body = Path(logdir) / "checklist.json"
    floor_body.write_bytes(b"{}")
    state_floor_body = Path(logdir) / "state.json"
    state_floor_body.write_bytes(b"{}")
    server = Server(logdir, floor_body, state_floor_body, workers=args.workers, worker_class=args.worker_class, threads=args.threads)
    seconds = args.seconds
    try:
        patient = Patient(server.base, DEMO_PATIENT_CODE)
        first = patient.get("/api/v1/me/checklist/")
        first.raise_for_status()
        floor_body.write_bytes(first.content)
        state_first = patient.get("/api/v1/me/checklist/state/")
        state_first.raise_for_status()
        state_floor_body.write_bytes(state_first.content)
        checklist = first.json()
        steps = checklist["counts"]["total"]
        etag = first.headers.get("ETag")
        print(f"  gunicorn {args.workers} {args.worker_class} workers, production settings; wrk {CONNECTIONS} "
              f"connections, {seconds:g}s per figure; checklist of {steps} steps, {len(first.content):,} bytes; "
              f"Cache-Control: {first.headers.get('Cache-Control')}", flush=True)

        alone = single_latency(patient, "/api/v1/me/checklist/", 50 if args.quick else 200)
        print_figure(Figure("checklist GET, one request alone", alone, "ms", note="median, nothing else running"),
                     results)

        # The machine is shared: its load can change between two runs. The floor is measured
        # right before and right after the two figures with goals, and their ratios are taken
        # against the mean of the two (both are printed).
        floor_before = wrk(f"{server.base}/bench/floor/", ["X-Forwarded-Proto: https"], seconds)
        full = wrk(f"{server.base}/api/v1/me/checklist/", patient.headers(), seconds)
        revalidate = None
        if etag:
            check = patient.get("/api/v1/me/checklist/", **{"If-None-Match": etag})
            if check.status_code != 304:
                raise SystemExit(f"If-None-Match with the current ETag answered {check.status_code}, not 304")
            revalidate = wrk(f"{server.base}/api/v1/me/checklist/", [*patient.headers(), f"If-None-Match: {etag}"],
                             seconds)
        floor_after = wrk(f"{server.base}/bench/floor/", ["X-Forwarded-Proto: https"], seconds)
        floor = WrkResult(
            rate=(floor_before.rate + floor_after.rate) / 2, p50_ms=max(floor_before.p50_ms, floor_after.p50_ms),
            p99_ms=max(floor_before.p99_ms, floor_after.p99_ms), requests=floor_before.requests + floor_after.requests,
            errors=floor_before.errors + floor_after.errors,
        )
        print(f"  floor: {floor_before.rate:,.0f} req/s before, {floor_after.rate:,.0f} after; mean {floor.rate:,.0f}",
              flush=True)
        print_figure(Figure("checklist GET (200)", full.rate, "req/s", baseline=floor.rate,
                            baseline_name="floor: same body, bare view", goal=CHECKLIST_GOAL,
                            goal_text=f">= {CHECKLIST_GOAL} of floor", limit=CHECKLIST_P99_MS, limit_value=full.p99_ms,
                            limit_text=f"p99 < {CHECKLIST_P99_MS:g} ms",
                            note=f"p50 {full.p50_ms:.1f} ms, floor p99 {floor.p99_ms:.1f} ms"), results)
        if revalidate is not None:
            print_figure(Figure("checklist GET, not modified (304)", revalidate.rate, "req/s", baseline=floor.rate,
                                baseline_name="floor", goal=NOT_MODIFIED_GOAL,
                                goal_text=f">= {NOT_MODIFIED_GOAL} of floor",
                                note=f"p50 {revalidate.p50_ms:.1f} ms, p99 {revalidate.p99_ms:.1f} ms"), results)
        else:
            print("  checklist GET, not modified (304): no ETag on the answer, nothing to revalidate")

        # The state: what the app reads after every change (the texts come once per version).
        state_floor_before = wrk(f"{server.base}/bench/floor/state/", ["X-Forwarded-Proto: https"], seconds)
        state = wrk(f"{server.base}/api/v1/me/checklist/state/", patient.headers(), seconds)
        state_floor_after = wrk(f"{server.base}/bench/floor/state/", ["X-Forwarded-Proto: https"], seconds)
        state_floor_rate = (state_floor_before.rate + state_floor_after.rate) / 2
        print(f"  state floor ({len(state_first.content):,} bytes): {state_floor_before.rate:,.0f} req/s before, "
              f"{state_floor_after.rate:,.0f} after; mean {state_floor_rate:,.0f}", flush=True)
        print_figure(Figure("checklist state GET (200)", state.rate, "req/s", baseline=state_floor_rate,
                            baseline_name="floor: same body, bare view", goal=CHECKLIST_GOAL,
                            goal_text=f">= {CHECKLIST_GOAL} of floor", limit=CHECKLIST_P99_MS, limit_value=state.p99_ms,
                            limit_text=f"p99 < {CHECKLIST_P99_MS:g} ms", note=f"p50 {state.p50_ms:.1f} ms"), results)

        for path, name in (("/api/v1/me/case/", "case GET"), ("/api/v1/me/inbox/", "inbox GET"),
                           ("/api/v1/me/", "me GET")):
            result = wrk(f"{server.base}{path}", patient.headers(), seconds / 2)
            print_figure(Figure(name, result.rate, "req/s", baseline=floor.rate, baseline_name="floor",
                                note=f"p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms"), results)

        ids = [t["id"] for group in checklist["groups"].values() for t in group]
        script = Path(logdir) / "toggle.lua"
        script.write_text(TOGGLE_SCRIPT % ", ".join(str(i) for i in ids))
        toggle = wrk(f"{server.base}/", patient.headers(), seconds, script=str(script))
        tick_p99_limit = TICK_P99_TIMES_READ * state.p99_ms
        print_figure(Figure("task complete/reopen POST", toggle.rate, "req/s", baseline=floor.rate,
                            baseline_name="floor", goal=TICK_GOAL, goal_text=f">= {TICK_GOAL} of floor",
                            limit=tick_p99_limit, limit_value=toggle.p99_ms,
                            limit_text=f"p99 < {TICK_P99_TIMES_READ:g}x the state read's ({tick_p99_limit:.0f} ms)",
                            note=f"p50 {toggle.p50_ms:.1f} ms; each cancels or re-plans the step's reminders"),
                     results)
        results_dump = Path(logdir) / "api.json"
        results_dump.write_text(json.dumps({"floor_before": floor_before.__dict__, "floor_after": floor_after.__dict__,
                                            "checklist": full.__dict__, "state": state.__dict__,
                                            "tick": toggle.__dict__}))
    finally:
        server.stop()
        if not args.keep_db:
            drop_database(DB_NAME)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("API")
    group.add_argument("--api-seconds", dest="seconds", type=float, default=None,
                       help="length of each wrk run (default 10, 2 with --quick)")
    group.add_argument("--workers", type=int, default=WORKERS, help="gunicorn workers (default 2)")
    group.add_argument("--worker-class", default="sync", help="gunicorn worker class (default sync)")
    group.add_argument("--threads", type=int, default=4, help="threads per worker with --worker-class gthread")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short runs: a smoke test, not figures")
    parser.add_argument("--keep-db", action="store_true")
    add_arguments(parser)
    args = parser.parse_args(argv)
    if args.seconds is None:
        args.seconds = 2 if args.quick else 10
    require_services()
    results: list[Figure] = []
    run(args, results)
    return results


if __name__ == "__main__":
    main()
