"""The Celery settings as the loaded app sees them: a misspelled setting would be silently ignored."""

import pytest
from celery.app.defaults import DEFAULTS
from django.conf import settings

from config.celery import app


def test_every_celery_setting_is_one_celery_knows():
    names = [name for name in dir(settings) if name.startswith("CELERY_")]
    unknown = [name for name in names if name[len("CELERY_"):].lower() not in DEFAULTS]
    assert names and unknown == [], f"Celery does not know these settings (misspelled?): {unknown}"


def test_reliability_settings_reach_the_app():
    conf = app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.accept_content == ["json"]
    assert conf.task_serializer == "json" and conf.result_serializer == "json"
    assert 0 < conf.task_soft_time_limit < conf.task_time_limit
    assert conf.broker_connection_retry_on_startup is True
    # A batch being sent is not killed when the broker connection drops (the claim token makes
    # the redelivered copy take nothing); set explicitly either way.
    assert conf.worker_cancel_long_running_tasks_on_connection_loss is False
    assert "CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS" in dir(settings)
    assert conf.timezone == "UTC"


def test_a_lease_is_short_and_renewed_while_a_batch_is_sent():
    """A claim nobody holds is found within a minute; one being sent is renewed three times per lease."""
    from prepapp.reminders.outbox import LeaseKeeper

    assert settings.REMINDER_LEASE_SECONDS + settings.REMINDER_SWEEP_SECONDS <= 60
    keeper = LeaseKeeper(ids=[], token=None)
    assert keeper.interval * 3 <= settings.REMINDER_LEASE_SECONDS
    # The batch's send budget (60 % of the soft limit) ends before the hard limit kills the task,
    # so its outcome is recorded (and its journal emptied) by the task that sent it.
    assert settings.CELERY_TASK_SOFT_TIME_LIMIT * 0.6 < app.conf.task_time_limit


def test_redis_redelivery_waits_longer_than_a_task_can_run():
    """Redis hands an unacknowledged message to another worker after the visibility timeout."""
    visibility = app.conf.broker_transport_options.get("visibility_timeout")
    if app.conf.broker_url.startswith("redis"):
        assert visibility > app.conf.task_time_limit


def test_beat_sweeps_at_least_once_a_minute_and_the_task_exists():
    app.loader.import_default_modules()
    entry = app.conf.beat_schedule["sweep-due-reminders"]
    assert entry["task"] == "prepapp.tasks.sweep_due_reminders"
    assert float(entry["schedule"]) <= 60
    assert "prepapp.tasks.sweep_due_reminders" in app.tasks
    assert "prepapp.tasks.deliver_reminders" in app.tasks


def test_no_task_is_scheduled_far_ahead():
    """The broker carries nothing the database does not hold: no eta/countdown in the reminder code.

    The one exception: a task retrying itself after a lost connection, a few seconds ahead
    (retry_delay, capped). Rows do not depend on those retries: a batch nobody took is queued
    again after its lease, and what a batch sent is in the send journal.
    """
    from pathlib import Path

    from prepapp.reminders import tasks

    engine = Path(__file__).resolve().parents[1] / "prepapp" / "reminders"
    modules = sorted(engine.rglob("*.py"))
    assert {"tasks.py", "outbox.py", "delivery.py"} <= {m.name for m in modules}
    for module in modules:
        text = module.read_text()
        assert "eta=" not in text, module.name
        if module.name == "tasks.py" and module.parent == engine:
            assert text.count("countdown=") == text.count("countdown=retry_delay(") == 1, module.name
        else:
            assert "countdown=" not in text, module.name
    assert tasks.RETRY_DELAY_CAP_SECONDS <= 30
    assert tasks.MAX_CONNECTION_RETRIES <= 5
    worst = [tasks.retry_delay(n) for n in range(tasks.MAX_CONNECTION_RETRIES + 3) for _ in range(50)]
    assert 0 < min(worst) and max(worst) <= tasks.RETRY_DELAY_CAP_SECONDS
    # The per-row backoff is capped too, so a retry is never scheduled far ahead in the table either.
    assert 0 < settings.REMINDER_RETRY_MAX_SECONDS <= 600


@pytest.mark.integration
def test_worker_and_beat_start_without_a_deprecation_warning(transactional_db, tmp_path):
    """Every setting Celery would warn about (one it will rename, or whose default will change) is set."""
    from .support.stack import Stack, redis_url_from_env

    stack = Stack(tmp_path, redis_url=redis_url_from_env())
    try:
        started = [stack.worker(concurrency=1), stack.beat()]
    finally:
        stack.stop()
    for proc in started:
        text = proc.output()
        assert " ready." in text or "beat: Starting" in text
        assert "CPendingDeprecationWarning" not in text and "CDeprecationWarning" not in text, proc.tail()
        assert "deprecat" not in text.lower(), proc.tail()


def test_the_embedded_broker_writes_nothing_outside_var(tmp_path):
    """Without Redis, a command run in the project's root leaves no control/ folder beside manage.py."""
    import os
    import subprocess
    import sys

    root = settings.BASE_DIR
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL", "DATABASE_URL")}
    env.update(DEBUG="true", DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    script = (
        "import django; django.setup()\n"
        "from config.celery import app\n"
        "with app.connection_for_write() as conn:\n"
        "    conn.default_channel.exchange_declare('celery.pidbox', type='fanout')\n"
        "    conn.default_channel.queue_bind('probe', 'celery.pidbox', '')\n"
        "print(app.conf.broker_transport_options['control_folder'])\n"
    )
    before = (root / "control").exists()
    done = subprocess.run([sys.executable, "-c", script], cwd=root, env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    folder = done.stdout.strip().splitlines()[-1]
    assert folder.startswith(str(root / "var")), folder
    assert any((root / "var" / "broker" / "control").iterdir())
    assert (root / "control").exists() == before
