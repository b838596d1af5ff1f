"""Fault tests: the database goes down and the broker loses every message, mid-delivery.

Real processes throughout: the operator's `celery -A config worker` (two of them) and
`celery -A config beat`, a PostgreSQL cluster and a redis-server of the test's own (the
machine's shared servers are never restarted), an SMTP server on loopback and the Web Push
stand-in. How the private servers are started, restarted and removed: tests/support/servers.py
and tests/support/processes.py (RedisServer); the run itself: tests/support/faults.py.

Each run has a few hundred reminders on all three channels, made due at once, and short
timings passed to the workers through their environment (a sweep every second, a 15 s lease,
batches of 30), so a fault lands in the middle of sending and the whole test takes about a
minute. Every reminder must arrive; none twice in the app; none twice by email or push
because of the database outage; and the backlog must drain within 90 seconds of the fault.
"""

import time

import pytest

from .support.faults import FaultRig, deprecation_lines, migrated_template
from .support.processes import RedisServer
from .support.servers import PostgresCluster

pytestmark = pytest.mark.integration

PER_PATIENT = {"inapp": 10, "email": 10, "push": 5}
PATIENTS = 12  # 300 reminders: 120 in the app, 120 by email, 60 by push
SETTINGS = dict(
    REMINDER_SWEEP_SECONDS=1, REMINDER_LEASE_SECONDS=15, REMINDER_BATCH_SIZE=30, REMINDER_MAX_IN_FLIGHT=240,
    # A batch that a fault cut short is retried within seconds here (the backoff has its own tests).
    REMINDER_RETRY_BASE_SECONDS=1, REMINDER_RETRY_MAX_SECONDS=5, REMINDER_MAX_ATTEMPTS=20,
    CELERY_TASK_SOFT_TIME_LIMIT=20, CELERY_TASK_TIME_LIMIT=30,
)
DRAIN_SECONDS = 90


@pytest.fixture(scope="module")
def cluster():
    """A PostgreSQL 15 cluster of this module's own, with a migrated template database."""
    pg = PostgresCluster().start()
    try:
        migrated_template(pg)
        yield pg
    finally:
        pg.destroy()


@pytest.fixture
def broker(tmp_path):
    (tmp_path / "redis").mkdir()
    redis = RedisServer(tmp_path / "redis").start()
    yield redis
    redis.stop()


@pytest.fixture
def rig_factory(tmp_path, cluster, broker, vapid_keys):
    rigs = []

    def make(**overrides):
        rig = FaultRig(tmp_path, pg=cluster, redis_url=broker.url, vapid_keys=vapid_keys,
                       smtp_latency=0.02, push_latency=0.02, **{**SETTINGS, **overrides})
        rigs.append(rig)
        rig.seed(patients=PATIENTS, per_channel=PER_PATIENT)
        return rig

    yield make
    for rig in rigs:
        rig.stop()


def start(rig: FaultRig):
    rig.worker(concurrency=2)
    rig.worker(concurrency=2)
    rig.beat()
    for proc in rig.processes:
        # Every Celery setting is set explicitly: nothing deprecated or about to change is named at start.
        assert deprecation_lines(proc) == [], proc.tail()
    rig.make_due()


def report(rig: FaultRig, drained: float) -> None:
    tally = rig.tally()
    faults = "; ".join(f"{f.name} with {f.sent_before} sent and {f.held} external in flight "
                       f"(back after {f.back_after:.1f}s)" for f in rig.faults)
    print(f"\n{faults}; drained {drained:.1f}s after the fault; {tally.line()}")
    return tally


def test_postgresql_down_mid_delivery_loses_and_doubles_nothing(rig_factory, cluster):
    rig = rig_factory()
    assert rig.total() == PATIENTS * sum(PER_PATIENT.values())
    try:
        start(rig)
        rig.wait_for_share_sent(0.3, timeout=90)
        # Down for 6 s: longer than the record step's own retries (3.5 s), so batches that were
        # sending when it went down can only be saved by the journal.
        fault = rig.inject("PostgreSQL down 6 s", lambda: cluster.outage(6))
        assert fault.sent_before < rig.total(), "the outage came after the run: it proved nothing"
        drained = rig.wait_drained(DRAIN_SECONDS)
        time.sleep(1)  # any message still on the wire lands before counting
    except AssertionError:
        rig.print_failure_context()
        raise
    tally = report(rig, drained)
    assert tally.statuses == {"sent": rig.total()}
    assert tally.lost == {"inapp": 0, "email": 0, "push": 0}
    # No repeat at all: the outage killed no worker, and whatever went out before the
    # database could record it was recorded from the journal instead of being sent again.
    assert tally.doubles == {"inapp": 0, "email": 0, "push": 0}, tally.doubles_by_cause
    assert rig.push.errors == []
    logs = "\n".join(p.output() for p in rig.processes)
    assert "OperationalError" in logs or "lost a connection" in logs, "the workers never noticed the outage"


def test_broker_killed_and_back_empty_mid_delivery_loses_nothing(rig_factory, broker):
    rig = rig_factory()
    try:
        start(rig)
        rig.wait_for_share_sent(0.3, timeout=90)
        queued = broker.client().llen(rig.queue)

        # kill -9 of redis-server, back at once on the same port with nothing in it: every
        # "deliver these ids" message queued or unacknowledged is gone.
        fault = rig.inject("Redis killed and back empty", broker.kill9_and_restart)
        assert fault.sent_before < rig.total()
        drained = rig.wait_drained(DRAIN_SECONDS)
        time.sleep(1)
    except AssertionError:
        rig.print_failure_context()
        raise
    tally = report(rig, drained)
    print(f"messages queued in the broker when it died: {queued}")
    assert tally.statuses == {"sent": rig.total()}
    assert tally.lost == {"inapp": 0, "email": 0, "push": 0}
    assert tally.doubles["inapp"] == 0
    # A worker that exits on losing the broker (a supervisor starts it again) may have been
    # mid-send: at most its one message on the wire can repeat, and the log says so.
    processes = 2 * 2
    assert tally.doubles["email"] + tally.doubles["push"] <= processes, tally.doubles_by_cause
    assert tally.unflagged_doubles == {"inapp": 0, "email": 0, "push": 0}
    assert rig.push.errors == []
