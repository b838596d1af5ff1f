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

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.sink.pipelining:  # aiosmtpd reads pipelined commands fine; it just does not say so
            return [*responses[:-1], "250-PIPELINING", responses[-1]]
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        refusal = self.sink.refuse.get(address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.sink.latency:
            time.sleep(self.sink.latency)  # a slow server: holds this connection like a real one would
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.sink.lock:
            self.sink.messages.append(message)
            self.sink.times.append(time.time())
        return "250 OK"


class SmtpSink:
    def __init__(self, latency: float = 0.0, pipelining: bool = False):
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command at INFO
        self.latency = latency
        self.pipelining = pipelining  # advertise PIPELINING (RFC 2920) in the EHLO reply
        self.refuse: dict[str, str] = {}  # recipient address -> the reply refusing it, e.g. "550 No such user"
        self.messages: list = []
        self.times: list[float] = []  # when each message was accepted (time.time())
        self.lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self.running = False

    def start(self) -> "SmtpSink":
        self.controller.start()
        self.running = True
        return self

    def stop(self):
        if self.running:
            self.controller.stop()
            self.running = False

    def go_down(self):
        """An outage: the server stops listening (connections are refused) until `come_back`."""
        self.stop()

    def come_back(self):
        """The same server on the same port again, keeping what it had received."""
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self.start()

    def arrivals(self) -> list[tuple[int, float]]:
        """(reminder id, time accepted) of every message, in order."""
        with self.lock:
            return [(int(m["X-Reminder-Id"]), t) for m, t in zip(self.messages, self.times) if m.get("X-Reminder-Id")]

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
