"""All the benchmarks, one command: `python -m bench` (`make bench`, `make bench BENCH_ARGS=--quick`).

Runs, each on scratch databases of its own on the PostgreSQL server DATABASE_URL names:

  api        the patient API under gunicorn (production settings) loaded by wrk, against a bare view;
  channels   email and Web Push through the transports, to local receivers;
  bulk       assigning a protocol to, and moving, 1,000 and 10,000 surgeries;
  reminders  in-app delivery against bare claiming and one django-celery-beat task per reminder,
             and the sweeper's tick among 10,000 and 1,000,000 rows;
  lighthouse the patient app in Chromium, scored by Lighthouse (mobile): sign-in, home and a step;
  peak       the morning peak: 100,000 patients' 09:00 reminders, the largest zone's delivered on
             every channel by a Celery worker while wrk loads the API with reads and ticks;

prints each figure as it comes (value, the same run's baseline, their ratio, the goal) and a
pass/fail table at the end. Exit status 0 whatever the figures: they are measurements, on a
machine whose other work moves them (docs/performance.md says how much).
"""

from __future__ import annotations

import argparse
import sys
import time

from bench import api, bulk, channels, lighthouse, peak, reminders
from bench.common import Figure, require_services, summary_table

SECTIONS = {"api": api, "channels": channels, "bulk": bulk, "reminders": reminders, "peak": peak,
            "lighthouse": lighthouse}


def main(argv=None) -> list[Figure]:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="every part at a small size and for a short time: checks that it all runs (minutes)")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated parts (default: all)")
    parser.add_argument("--skip", default="", help="comma-separated parts to leave out")
    parser.add_argument("--keep-db", action="store_true", help="leave the scratch databases for inspection")
    api.add_arguments(parser)
    channels.add_arguments(parser)
    reminders.add_arguments(parser)
    peak.add_arguments(parser)
    args = parser.parse_args(argv)
    if args.seconds is None:
        args.seconds = 2 if args.quick else 10
    wanted = [s.strip() for s in args.only.split(",") if s.strip()]
    skipped = {s.strip() for s in args.skip.split(",") if s.strip()}
    unknown = (set(wanted) | skipped) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown part(s): {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}")
    require_services()
    results: list[Figure] = []
    started = time.monotonic()
    for name in wanted:
        if name in skipped:
            continue
        print(f"\n== {name}{' (quick)' if args.quick else ''}", flush=True)
        t0 = time.monotonic()
        SECTIONS[name].run(args, results)
        print(f"  ({time.monotonic() - t0:.0f}s)", flush=True)
    print(f"\n== summary ({time.monotonic() - started:.0f}s{', quick: not figures to quote' if args.quick else ''})")
    print(summary_table(results))
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
