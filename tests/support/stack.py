"""The running system for a test: worker and beat processes wired to SMTP, push and a broker."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .processes import Process, base_env, celery_beat, celery_worker


class Stack:
    def __init__(self, workdir: Path, *, redis_url: str, smtp=None, push=None, vapid_keys=None, **settings):
        extra = {
            "REMINDER_SWEEP_SECONDS": 1,
            # Every worker of the stack on one host, sharing one journal folder.
            "REMINDER_JOURNAL_DIR": str(workdir / "journal"),
            "SITE_URL": "http://testserver",
        }
        if smtp is not None:
            extra["EMAIL_URL"] = smtp.url
        if push is not None:
            extra.update(
                VAPID_PUBLIC_KEY=vapid_keys[0], VAPID_PRIVATE_KEY=vapid_keys[1], VAPID_SUBJECT="mailto:ops@example.org",
                WEBPUSH_ALLOW_HTTP="true", WEBPUSH_ENDPOINT_HOSTS="127.0.0.1", WEBPUSH_TIMEOUT_SECONDS=3,
            )
        extra.update(settings)
        self.workdir = workdir
        self.env = base_env(redis_url=redis_url, **extra)
        self.processes: list[Process] = []

    def worker(self, concurrency: int = 2) -> Process:
        proc = celery_worker(self.env, self.workdir, concurrency=concurrency).start()
        self.processes.append(proc)
        proc.wait_for_output(" ready.", timeout=60)
        return proc

    def beat(self) -> Process:
        proc = celery_beat(self.env, self.workdir).start()
        self.processes.append(proc)
        proc.wait_for_output("beat: Starting", timeout=60)
        return proc

    def stop(self):
        for proc in reversed(self.processes):
            proc.stop()

    def logs(self, lines: int = 60) -> str:
        return "\n".join(f"--- {p.name} ({p.log_path.name}) ---\n{p.tail(lines)}" for p in self.processes)


def redis_url_from_env() -> str:
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.fail("REDIS_URL is not set: the integration tests need the machine's Redis")
    return url
