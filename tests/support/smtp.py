"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives."""

from __future__ import annotations

import email
import email.policy
import logging
import threading
import time

from aiosmtpd.controller import Controller

from .processes import free_port


class _Handler:
    def __init__(self, sink: "SmtpSink"):
        self.sink = sink

    async def handle_DATA(self, server, session, envelope):
        if self.sink.latency:
            time.sleep(self.sink.latency)  # a slow server: holds this connection like a real one would
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.sink.lock:
            self.sink.messages.append(message)
        return "250 OK"


class SmtpSink:
    def __init__(self, latency: float = 0.0):
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command at INFO
        self.latency = latency
        self.messages: list = []
        self.lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)

    def start(self) -> "SmtpSink":
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def received(self) -> list:
        with self.lock:
            return list(self.messages)

    def count_by_reminder(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for m in self.received():
            rid = m.get("X-Reminder-Id")
            if rid:
                counts[int(rid)] = counts.get(int(rid), 0) + 1
        return counts
