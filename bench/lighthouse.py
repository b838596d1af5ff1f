"""The app on a phone, as Lighthouse scores it: `python -m bench --only lighthouse` (part of `make bench`).

Serves the project as production does (gunicorn, DEBUG off, the static files collected, hashed and
compressed by WhiteNoise) on a scratch database holding the demo clinic, signs the demo patient
in, and runs Lighthouse 12 (pinned in bench/lighthouse/package.json, installed by `make bench`)
with its mobile defaults (a mid-range phone, slow 4G, 4x CPU slowdown) in Debian's Chromium on:

  sign-in   the app signed out: the welcome screen;
  home      signed in: the countdown and this week's steps;
  step      signed in: one step's page.

The session is put in the browser's cookie jar before the run (bench/lighthouse/run.mjs, with
puppeteer-core, which Lighthouse brings), so the service worker's requests carry it too; the
page's requests carry X-Forwarded-Proto: https, the TLS-terminating proxy's word production trusts. For each page it
prints the four category scores, the Largest Contentful Paint and the Total Blocking Time,
against the goals: 100 for each score, LCP under 1.5 s, TBT 0 ms.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess  # nosec B404  # runs npm and Lighthouse, fixed local programs
import tempfile
import urllib.request
from pathlib import Path

from bench import api
from bench.common import ROOT, Figure, drop_database, print_figure

TOOL_DIR = Path(__file__).resolve().parent / "lighthouse"
LIGHTHOUSE = TOOL_DIR / "node_modules" / ".bin" / "lighthouse"
RUN_SCRIPT = TOOL_DIR / "run.mjs"
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
LCP_LIMIT_MS = 1500.0
FIRST_LOAD_GOAL_KB = 15.0


def install() -> None:
    """Lighthouse as package-lock.json pins it (npm ci), unless it is there already."""
    if LIGHTHOUSE.exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm is needed for the Lighthouse part (Debian's nodejs and npm)")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--prefix", str(TOOL_DIR)], check=True)  # nosec B603


def chromium() -> str:
    path = os.environ.get("CHROME_PATH") or os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or ""
    if not path or not Path(path).exists():
        raise SystemExit("Chromium is needed for the Lighthouse part (Debian's chromium; CHROME_PATH to use another)")
    return path


def collect_static() -> None:
    """The static files as production serves them: hashed names and their compressed copies."""
    from django.core.management import call_command

    call_command("collectstatic", "--noinput", "--clear", verbosity=0)


def lighthouse(url: str, cookies: dict[str, str], headers: dict[str, str], out: Path) -> dict:
    """One Lighthouse run of `url` (bench/lighthouse/run.mjs), with these cookies in the browser; its JSON report."""
    node = shutil.which("node")
    if node is None:
        raise SystemExit("node is needed for the Lighthouse part (Debian's nodejs)")
    jar = [{"name": name, "value": value} for name, value in cookies.items()]
    args = [node, str(RUN_SCRIPT), url, str(out), json.dumps(jar), json.dumps(headers)]
    subprocess.run(args, check=True, env=dict(os.environ, CHROME_PATH=chromium()), cwd=TOOL_DIR)  # nosec B603
    return json.loads(out.read_text())


def figures_of(page: str, report: dict) -> list[Figure]:
    figures = []
    for key in CATEGORIES:
        score = report["categories"][key]["score"]
        # No score when one of its audits could not run: counted as 0, and said so.
        figures.append(Figure(f"lighthouse {page}: {report['categories'][key]['title'].lower()}",
                              round((score or 0) * 100), "", goal=100, goal_text="100",
                              note="" if score is not None else "an audit failed to run"))
    lcp = report["audits"]["largest-contentful-paint"]["numericValue"]
    tbt = report["audits"]["total-blocking-time"]["numericValue"]
    figures.append(Figure(f"lighthouse {page}: LCP", lcp / 1000, "s", limit=LCP_LIMIT_MS / 1000, limit_value=lcp / 1000,
                          limit_text="LCP < 1.5 s", limit_unit=" s"))
    # Goal 0 ms: under 1 ms, as Lighthouse reports it in whole milliseconds.
    figures.append(Figure(f"lighthouse {page}: TBT", tbt, "ms", limit=1.0, limit_value=tbt, limit_text="TBT < 1 ms"))
    failing = [
        audit["id"] for audit in report["audits"].values()
        if audit.get("score") is not None and audit["score"] < 0.9 and audit.get("scoreDisplayMode") in ("binary", "numeric")
    ]
    if failing:
        print(f"  {page}: audits below 0.9: {', '.join(sorted(failing))}", flush=True)
    return figures


def _wire_bytes(url: str, headers: dict[str, str]) -> tuple[int, bytes]:
    """What the server sends for `url` to a browser that accepts gzip: the bytes on the wire, and the page's text."""
    request = urllib.request.Request(url, headers={**headers, "Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request, timeout=30) as response:  # nosec B310  # loopback
        body = response.read()
        encoding = response.headers.get("Content-Encoding", "")
    return len(body), (gzip.decompress(body) if encoding == "gzip" else body)


def first_load(base: str, path: str, headers: dict[str, str]) -> tuple[int, int]:
    """The shell of `path`, its translations, style sheets, entry module and modulepreloads, as served: (bytes, files)."""
    size, html = _wire_bytes(f"{base}{path}", headers)
    text = html.decode()
    urls = set(re.findall(r'<script[^>]* src="([^"]+)"', text))
    urls |= set(re.findall(r'<link rel="(?:stylesheet|modulepreload)" href="([^"]+)"', text))
    total = size + sum(_wire_bytes(f"{base}{url}", headers)[0] for url in urls)
    return total, len(urls) + 1


def run(args, results: list[Figure]) -> None:
    install()
    api.prepare_database()
    # Collected where production's settings look (STATIC_ROOT); removed after, unless it was there before.
    collected_before = (ROOT / "staticfiles").exists()
    collect_static()
    from prepapp.management.commands.seed_demo import DEMO_PATIENT_CODE

    logdir = tempfile.mkdtemp(prefix="bench-lighthouse-")
    floor_body = Path(logdir) / "floor.json"
    floor_body.write_bytes(b"{}")
    # The browser's own requests (the service worker's script, robots.txt) go without the extra
    # headers: plain http is served, not redirected, as the proxy in front would have answered them.
    server = api.Server(logdir, floor_body, workers=args.workers, worker_class=args.worker_class, threads=args.threads,
                        extra_env={"SECURE_SSL_REDIRECT": "false"})
    try:
        patient = api.Patient(server.base, DEMO_PATIENT_CODE)
        state = patient.get("/api/v1/me/checklist/state/")
        state.raise_for_status()
        step = next(t for group in state.json()["groups"].values() for t in group)
        proxy = {"X-Forwarded-Proto": "https"}
        session = dict(part.split("=", 1) for part in patient.cookie.split("; "))
        pages = [
            ("sign-in", "/", {}),
            ("home", "/", session),
            ("step", f"/tasks/{step['id']}/", session),
        ]
        if args.quick:  # one page: checks that it all runs
            pages = pages[1:2]
        for page, path, cookies in pages:
            cookie = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} if cookies else {}
            total, files = first_load(server.base, path, {**proxy, **cookie})
            print_figure(Figure(f"first load, {page} (gzipped)", total / 1000, "KB", limit=FIRST_LOAD_GOAL_KB,
                                limit_value=total / 1000, limit_text=f"first load < {FIRST_LOAD_GOAL_KB:g} KB",
                                limit_unit=" KB", note=f"{files} files: shell, scripts and styles as served"),
                         results)
        print(f"  Lighthouse 12.2.3, mobile; gunicorn {args.workers} {args.worker_class} workers, production "
              f"settings; reports in {logdir}", flush=True)
        for page, path, cookies in pages:
            report = lighthouse(f"{server.base}{path}", cookies, proxy, Path(logdir) / f"{page}.json")
            for figure in figures_of(page, report):
                print_figure(figure, results)
    finally:
        server.stop()
        if not args.keep_db:
            drop_database(api.DB_NAME)
        if not collected_before:
            shutil.rmtree(ROOT / "staticfiles", ignore_errors=True)
