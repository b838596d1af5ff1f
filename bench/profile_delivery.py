"""Where one in-app delivery batch spends its time: `python -m bench.profile_delivery`.

Claims batches of due in-app reminders as the sweeper does and delivers them in this process
with `delivery.deliver_batch`, timing each step of it from the outside (nothing in delivery is
changed): taking the rows (read under their claim, share locks, the rows' patients, steps,
checklists with their cases, the definitions), the recheck, composing the words, marking them
sent and logging them (one UPDATE … RETURNING feeding the log's INSERT, which locks the rows),
the in-app transport (the inbox rows), and the commit (with the foreign keys' deferred checks).
It also prints the SQL statements of one batch. With --profile and pyinstrument installed, the
call tree.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections import defaultdict

from bench.common import drop_database, recreate_database, require_services, scratch

DB_NAME = scratch("bench_delivery")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    require_services()
    recreate_database(DB_NAME)
    os.environ.update(BENCH_DB_NAME=DB_NAME, DJANGO_SETTINGS_MODULE="bench.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, transaction

    settings.DATABASES["default"]["NAME"] = DB_NAME
    call_command("migrate", verbosity=0)
    from prepapp.reminders import compose as compose_module
    from prepapp.reminders import claims, delivery, outbox, recheck, recording
    from prepapp.reminders.channels.inapp import InAppTransport

    from bench.reminders import make_population

    try:
        batch = settings.REMINDER_INAPP_BATCH_SIZE
        ids = make_population(batch * args.batches)
        with connection.cursor() as cur:
            cur.execute("UPDATE reminders_reminder SET send_at = now() WHERE id = ANY(%s)", [ids])
        spent = defaultdict(float)

        def timing(name, fn):
            def wrapper(*a, **kw):
                t0 = time.perf_counter()
                try:
                    result = fn(*a, **kw)
                    if name == "in-app transport (inbox rows)":
                        result = list(result)
                    return result
                finally:
                    spent[name] += time.perf_counter() - t0
            return wrapper

        claims.take = timing("take (token, share locks, rows, definitions)", claims.take)
        recheck.recheck = timing("recheck", recheck.recheck)
        delivery.compose = timing("compose", compose_module.compose)
        InAppTransport.send = timing("in-app transport (inbox rows)", InAppTransport.send)
        recording.record = timing("record (status UPDATE, delivery log)", recording.record)
        # The inbox's recording: the "sent" mark (its compare-and-set locks the rows) with the log.
        recording._mark_sent_and_log = timing("mark sent and log (UPDATE … RETURNING, INSERT)",
                                              recording._mark_sent_and_log)
        original_atomic = transaction.Atomic.__exit__

        def timed_exit(self, *exc):
            t0 = time.perf_counter()
            try:
                return original_atomic(self, *exc)
            finally:
                spent["commit"] += time.perf_counter() - t0

        transaction.Atomic.__exit__ = timed_exit
        claimed: list[tuple[str, list[int], str]] = []
        statements: list[str] = []
        totals = []
        profiler = None
        if args.profile:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005)
        for number in range(args.batches):
            claimed.clear()
            outbox.claim_due(limit=batch, enqueue=lambda channel, ids_, token: claimed.append((channel, ids_, token)))
            for channel, batch_ids, token in claimed:

                def count(execute, sql, params, many, context):
                    statements.append(sql)
                    return execute(sql, params, many, context)

                if profiler and number:
                    profiler.start()
                t0 = time.perf_counter()
                if number == 1:
                    with connection.execute_wrapper(count):
                        delivery.deliver_batch(ids=batch_ids, token=token, channel=channel)
                else:
                    delivery.deliver_batch(ids=batch_ids, token=token, channel=channel)
                if number:  # the first batch warms the caches
                    totals.append(time.perf_counter() - t0)
                if profiler and number:
                    profiler.stop()
        runs = len(totals)
        total = sum(totals)
        print(f"deliver_batch, {batch} in-app reminders: median {statistics.median(totals) * 1000:.1f} ms "
              f"({batch / statistics.median(totals):,.0f}/s in one process), {runs} batches")
        for name, seconds in sorted(spent.items(), key=lambda kv: -kv[1]):
            print(f"  {name:46} {seconds / (runs + 1) * 1000:7.1f} ms per batch  ({100 * seconds / total:4.1f}%)")
        print(f"SQL statements of one batch: {len(statements)}")
        for sql in statements:
            print("  ", sql[:160])
        if profiler:
            print(profiler.output_text(unicode=False, color=False))
    finally:
        drop_database(DB_NAME)


if __name__ == "__main__":
    main()
