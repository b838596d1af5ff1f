"""Email and Web Push throughput through the project's transports: `python -m bench.channels`.

Part of `make bench`. Reminders of real checklists (patients with an email address and a
subscribed browser) are composed in each patient's language and handed, in batches of the
delivery batch size, to `EmailTransport` (to a local SMTP server in a process of its own, that
checks each message and notes its reminder id) and `WebPushTransport` (VAPID and aes128gcm for
real, to the local stand-in of a push service that checks the signature and decrypts every
message as a browser would), by `--senders` processes at once, as the delivery workers would.
Every message is checked to have arrived. The rate counts the transports' work only (composing
is done before the clock).

The SMTP server is by default a small asyncio one of the bench's own (`--smtp-server sink`):
aiosmtpd (`--smtp-server aiosmtpd`) spends about 0.8 ms of CPU per message, parsing each
address with the email package's header parser, on the same two cores as the senders, which
made it the ceiling of the figure (about 1,100 messages a second with senders doing no work at
all). A relay such as Postfix on its own host costs the sender nothing of the kind.

Web Push has two figures. End to end: the messages over the wall clock, the stand-in verifying
and decrypting every message in Python on the same two cores. The goal figure, the senders alone:
the messages over the senders' CPU seconds shared by the cores (one per sender), the stand-in's
CPU set apart and shown beside it (a real push service runs elsewhere).

Push encryption is timed on its own: the aes128gcm encryption of one payload (an ephemeral
P-256 key, ECDH, HKDF, AES-GCM) and the VAPID signature (ES256), which a sender makes once per
push service and reuses.

One benchmark end to end (its own SMTP server and push stand-in runs, the floor beside them) reads best in one file.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import multiprocessing
import os
import re
import statistics
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

from bench.common import Figure, ROOT, drop_database, print_figure, recreate_database, require_services, scratch

DB_NAME = scratch("bench_channels")
EMAIL_GOAL, PUSH_GOAL = 1000, 2000


def setup() -> None:
    import django

    recreate_database(DB_NAME)
    os.environ["BENCH_DB_NAME"] = DB_NAME
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.DATABASES["default"]["NAME"] = DB_NAME
    call_command("migrate", verbosity=0)
    call_command("load_protocols", stdout=io.StringIO())


def population(n_patients: int, push_service) -> None:
    """Patients with a checklist, an email address and one subscribed browser each."""
    from datetime import date

    from django.contrib.auth import get_user_model

    from checklists.models import Protocol
    from prepapp.models import Organization, Patient, SurgeryCase
    from prepapp.reminders.models import PushSubscription
    from prepapp.workflows import checklists_assign_bulk

    org = Organization.objects.create(name="Channel clinic", slug="channel-clinic")
    users = get_user_model().objects.bulk_create(get_user_model()(username=f"ch-{i}") for i in range(n_patients))
    patients = Patient.objects.bulk_create(
        # A message per step on both channels side by side (not the daily digest, nor email only
        # when push fails): the most messages per step.
        Patient(organization=org, user=u, full_name=f"Patient {i}", contact_email=f"patient{i}@example.org",
                language="es" if i % 3 == 0 else "en", time_zone="Europe/Madrid" if i % 2 else "America/Chicago",
                reminder_style=Patient.ReminderStyle.PER_STEP, channel_policy=Patient.ChannelPolicy.BOTH)
        for i, u in enumerate(users)
    )
    cases = SurgeryCase.objects.bulk_create(
        SurgeryCase(patient=p, procedure="Lumbar fusion", surgery_date=date.today() + timedelta(days=30))
        for p in patients
    )
    version = Protocol.objects.get(key="mis-lumbar-fusion").latest_version()
    checklists_assign_bulk(cases=cases, protocol_version=version)
    subscriptions = []
    for p in patients:
        browser = push_service.browser(f"patient-{p.pk}")
        subscriptions.append(PushSubscription(patient=p, endpoint=browser.endpoint, p256dh=browser.p256dh,
                                              auth=browser.auth))
    PushSubscription.objects.bulk_create(subscriptions)


# --- The SMTP server: a process of its own that receives every message and notes its reminder id ---

REMINDER_ID = re.compile(rb"^X-Reminder-Id: *(\d+)\r?$", re.M | re.I)
TO_HEADER = re.compile(rb"^To: *(.+?)\r?$", re.M | re.I)


def checked_reminder_id(content: bytes, recipients: list[bytes]) -> int | None:
    """The reminder id of a received message, if it is whole: headers, a body, To the envelope's recipient."""
    head, blank, body = content.partition(b"\r\n\r\n")
    reminder, to = REMINDER_ID.search(head), TO_HEADER.search(head)
    if not (blank and body and reminder and to and [to.group(1).strip().lower()] == recipients):
        return None
    return int(reminder.group(1))


class SinkSession(asyncio.Protocol):
    """One SMTP session (RFC 5321, with PIPELINING and 8BITMIME): EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT.

    Every message is read to its end-of-data line, un-dot-stuffed and checked
    (`checked_reminder_id`): a message that is not whole gets 554, and the bench fails.
    """

    def __init__(self, received: list[int]):
        self.received = received
        self.buffer = bytearray()
        self.greeted = self.in_data = self.closing = False
        self.sender: bytes | None = None
        self.recipients: list[bytes] = []

    def connection_made(self, transport):
        self.transport = transport
        transport.write(b"220 127.0.0.1 ESMTP bench sink\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        replies = []  # pipelined commands: their replies go back in one write, in order
        while not self.closing:
            reply = self.message_end() if self.in_data else self.next_command()
            if reply is None:
                break
            replies.append(reply)
        if replies:
            self.transport.write(b"".join(replies))
        if self.closing:
            self.transport.close()

    def next_command(self) -> bytes | None:
        end = self.buffer.find(b"\r\n")
        if end < 0:
            return None
        line = bytes(self.buffer[:end])
        del self.buffer[:end + 2]
        verb, _, argument = line.partition(b" ")
        verb = verb.upper()
        if verb in (b"EHLO", b"HELO"):
            self.greeted, self.sender, self.recipients = True, None, []
            return b"250-127.0.0.1\r\n250-PIPELINING\r\n250 8BITMIME\r\n" if verb == b"EHLO" else b"250 127.0.0.1\r\n"
        if verb == b"MAIL" and argument.upper().startswith(b"FROM:"):
            if not self.greeted or self.sender is not None:
                return b"503 Bad sequence of commands\r\n"
            self.sender = argument[5:].split(b" ", 1)[0].strip(b"<>")
            return b"250 OK\r\n"
        if verb == b"RCPT" and argument.upper().startswith(b"TO:"):
            if self.sender is None:
                return b"503 Need MAIL first\r\n"
            self.recipients.append(argument[3:].split(b" ", 1)[0].strip(b"<>").lower())
            return b"250 OK\r\n"
        if verb == b"DATA":
            if not self.recipients:
                return b"503 Need RCPT first\r\n"
            self.in_data = True
            return b"354 End data with <CR><LF>.<CR><LF>\r\n"
        if verb in (b"RSET", b"NOOP"):
            if verb == b"RSET":
                self.sender, self.recipients = None, []
            return b"250 OK\r\n"
        if verb == b"QUIT":
            self.closing = True
            return b"221 Bye\r\n"
        return b"500 Command not recognized\r\n"

    def message_end(self) -> bytes | None:
        if self.buffer.startswith(b".\r\n"):
            end, content = 0, b""
        else:
            end = self.buffer.find(b"\r\n.\r\n")
            if end < 0:
                return None
            end += 2
            content = bytes(self.buffer[:end]).replace(b"\r\n..", b"\r\n.")
            if content.startswith(b".."):
                content = content[1:]
        del self.buffer[:end + 3]
        reminder_id = checked_reminder_id(content, self.recipients)
        self.in_data, self.sender, self.recipients = False, None, []
        if reminder_id is None:
            return b"554 Message not whole\r\n"
        self.received.append(reminder_id)
        return b"250 OK\r\n"


def _sink_server(port, ready, stop, results):
    """A small asyncio SMTP server: the same checks as aiosmtpd's handler, a fraction of its CPU per message."""
    received: list[int] = []
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(lambda: SinkSession(received), "127.0.0.1", port))
    threading.Thread(target=lambda: (stop.wait(), loop.call_soon_threadsafe(loop.stop)), daemon=True).start()
    ready.set()
    loop.run_forever()
    server.close()
    results.send(received)


def _aiosmtpd_server(port, ready, stop, results):
    import logging

    from aiosmtpd.controller import Controller

    logging.getLogger("mail.log").setLevel(logging.WARNING)
    received = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            content = envelope.original_content or envelope.content
            reminder_id = checked_reminder_id(content, [r.lower().encode() for r in envelope.rcpt_tos])
            if reminder_id is None:
                return "554 Message not whole"
            received.append(reminder_id)
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()
    results.send(received)


SMTP_SERVERS = {"sink": _sink_server, "aiosmtpd": _aiosmtpd_server}


class SmtpServer:
    """A real SMTP server in another process, so that it does not share this one's interpreter."""

    def __init__(self, kind: str = "sink"):
        from bench.common import free_port

        context = multiprocessing.get_context("spawn")
        self.ready, self.stop_event = context.Event(), context.Event()
        self.results, sender = context.Pipe(duplex=False)
        self.port = free_port()
        self.process = context.Process(target=SMTP_SERVERS[kind], args=(self.port, self.ready, self.stop_event, sender),
                                       daemon=True)
        self.process.start()
        if not self.ready.wait(30):
            raise SystemExit("the SMTP server did not start")
        self.received_ids: list[int] | None = None

    def stop(self) -> list[int]:
        """Stop it; returns the reminder ids of the messages it received."""
        if self.received_ids is None:
            self.stop_event.set()
            self.received_ids = self.results.recv() if self.results.poll(30) else []
            self.process.join(10)
        return self.received_ids


def reminder_ids(channel: str, n: int) -> list[int]:
    from prepapp.reminders.models import Reminder

    ids = list(Reminder.objects.filter(channel=channel, status="pending").order_by("id").values_list("id", flat=True))
    if len(ids) < n:
        raise SystemExit(f"only {len(ids)} {channel} reminders planned; fewer patients than --n needs")
    return ids[:n]


# --- The workers ---------------------------------------------------------------------------------


_start_line = None  # a barrier shared by the sending processes of one figure (set by _join_start_line)


def _join_start_line(barrier) -> None:
    global _start_line
    _start_line = barrier


def _worker(job) -> tuple[int, int, float]:
    """In a process of its own: compose the batches, then time the transport sending them."""
    channel, ids, config, batch_size = job
    os.environ.update(DJANGO_SETTINGS_MODULE="bench.settings", BENCH_DB_NAME=DB_NAME)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings

    for name, value in config.items():
        setattr(settings, name, value)
    from prepapp.reminders.channels.base import Outcome, Outgoing
    from prepapp.reminders.channels.email import EmailTransport
    from prepapp.reminders.channels.webpush import WebPushTransport
    from prepapp.reminders.compose import compose
    from prepapp.reminders.models import Reminder

    transport = EmailTransport() if channel == "email" else WebPushTransport()
    batches = []
    for start in range(0, len(ids), batch_size):
        rows = Reminder.objects.filter(id__in=ids[start:start + batch_size]).select_related(
            "patient", "task__definition", "task__checklist__case"
        )
        batches.append([Outgoing(reminder=r, message=compose(r)) for r in rows])
    sent = failed = 0
    _start_line.wait(timeout=300)  # every sender starts together, so that they do send side by side
    profiler = None
    if os.environ.get("BENCH_PROFILE_SENDER"):  # --profile-sender: pyinstrument's call tree of the sending
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0002)
        profiler.start()
    t0, c0 = time.perf_counter(), time.process_time()
    for batch in batches:
        for result in transport.send(batch):
            if result.outcome is Outcome.SENT:
                sent += 1
            else:
                failed += 1
    if profiler is not None:
        profiler.stop()
        from pyinstrument.renderers import ConsoleRenderer

        print(profiler.output(ConsoleRenderer(unicode=False, color=False, flat=True, time="percent_of_total")),
              flush=True)
    return sent, failed, time.perf_counter() - t0, time.process_time() - c0


LAST_SENDER_CPU: list[float] = []  # each sending process's CPU seconds in the last deliver()


def deliver(channel: str, ids: list[int], config: dict, workers: int, batch_size: int) -> tuple[float, int, int]:
    """Send through `workers` processes at once; returns (messages per second, sent, failed)."""
    shares = [ids[i::workers] for i in range(workers)]
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, initializer=_join_start_line, initargs=(context.Barrier(workers),)) as pool:
        # Every process composes its batches first, then waits for the others: the clock runs
        # from the common start to each one's last send (without the wait, a process that
        # composed faster would send alone for a while and the figure would read too high).
        results = pool.map(_worker, [(channel, share, config, batch_size) for share in shares], chunksize=1)
    sent = sum(r[0] for r in results)
    failed = sum(r[1] for r in results)
    sending = max(r[2] for r in results)  # the slowest worker's sending time: they ran side by side
    LAST_SENDER_CPU[:] = [r[3] for r in results]
    return sent / sending, sent, failed


def encryption_cost(push_service, runs: int) -> tuple[float, float]:
    """Milliseconds for one aes128gcm encryption (the browser's key already loaded), and for one
    VAPID signature (made once per push service and key, then reused: see push_connections)."""
    from py_vapid import Vapid

    from prepapp.reminders.channels.webpush import encrypt
    from tests.support.push_service import vapid_key_pair

    browser = push_service.browser("encryption")
    payload = b'{"title":"Due tomorrow: Stop taking anti-inflammatory painkillers","body":"Please have it done.",' \
              b'"url":"/tasks/12/","tag":"reminder-1234","reminder":1234}'
    encrypt(payload, browser.p256dh, browser.auth)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        encrypt(payload, browser.p256dh, browser.auth)
        times.append((time.perf_counter() - t0) * 1000)
    vapid = Vapid.from_string(vapid_key_pair()[1])
    sign = []
    for _ in range(runs):
        t0 = time.perf_counter()
        vapid.sign({"sub": "mailto:ops@example.org", "aud": push_service.origin, "exp": int(time.time()) + 3600})
        sign.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), statistics.median(sign)


def run(args, results: list[Figure]) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.support.push_service import PushService, vapid_key_pair

    setup()
    from django.conf import settings
    from django.db import connections

    public, private = vapid_key_pair()  # made for this run, never stored
    sink = SmtpServer(args.smtp_server)
    push = PushService(expected_public_key=public).start()
    try:
        n_email, n_push = (min(args.email_n, 200), min(args.push_n, 100)) if args.quick else (args.email_n, args.push_n)
        population(max(20, (max(n_email, n_push) // 40) + 1), push)
        email_ids, push_ids = reminder_ids("email", n_email), reminder_ids("push", n_push)
        connections.close_all()
        batch = settings.REMINDER_BATCH_SIZE
        email_config = {"EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend", "EMAIL_HOST": "127.0.0.1",
                        "EMAIL_PORT": sink.port, "EMAIL_USE_TLS": False, "EMAIL_USE_SSL": False, "EMAIL_TIMEOUT": 10}
        rate, sent, failed = deliver("email", email_ids, email_config, args.senders, batch)
        arrived = len(set(sink.stop()))
        if failed or arrived != len(email_ids):
            raise SystemExit(f"email: {sent} sent, {failed} not, {arrived} of {len(email_ids)} arrived")
        print_figure(Figure("email to a local SMTP server", rate, "msg/s", goal=EMAIL_GOAL,
                            goal_text=f">= {EMAIL_GOAL:,}/s", note=f"{len(email_ids):,} messages, {args.senders} workers,"
                            f" one SMTP session per batch, server: {args.smtp_server}"), results)

        push_config = {"VAPID_PUBLIC_KEY": public, "VAPID_PRIVATE_KEY": private,
                       "VAPID_SUBJECT": "mailto:operations@example.org", "WEBPUSH_ALLOW_HTTP": True,
                       "WEBPUSH_ENDPOINT_HOSTS": ["127.0.0.1"], "WEBPUSH_TIMEOUT_SECONDS": 10}
        stand_in_cpu, stand_in_connections = push.cpu_seconds, push.connections_opened
        rate, sent, failed = deliver("push", push_ids, push_config, args.senders, batch)
        arrived = len(push.count_by_reminder())
        if failed or arrived != len(push_ids) or push.errors:
            raise SystemExit(f"push: {sent} sent, {failed} not, {arrived} of {len(push_ids)} arrived; "
                             f"{push.errors[:3]}")
        stand_in_ms = (push.cpu_seconds - stand_in_cpu) * 1000 / len(push_ids)
        sender_ms = sum(LAST_SENDER_CPU) * 1000 / len(push_ids)
        print_figure(Figure("Web Push to the local push service, end to end", rate, "msg/s",
                            note=f"{len(push_ids):,} messages, {args.senders} workers, "
                            f"{push.connections_opened - stand_in_connections} connections; the stand-in verifies "
                            f"and decrypts each on the same cores ({stand_in_ms:.3f} ms of CPU per message)"), results)
        # The goal figure: what the senders' own CPU allows. The stand-in is a Python process on
        # the same two cores (a real push service runs elsewhere), so its CPU is set apart: the
        # messages over the senders' CPU seconds shared by the cores they had, one each.
        alone = len(push_ids) / (sum(LAST_SENDER_CPU) / args.senders)
        print_figure(Figure("Web Push, senders alone (the stand-in's CPU set apart)", alone, "msg/s", goal=PUSH_GOAL,
                            goal_text=f">= {PUSH_GOAL:,}/s",
                            note=f"messages / (senders' CPU seconds / {args.senders} cores): {sender_ms:.3f} ms of "
                                 "sender CPU per message (encryption, VAPID, HTTP, the transport's loop and its "
                                 "database reads), not counting the wait on the network"), results)
        encrypt, sign = encryption_cost(push, 50 if args.quick else 500)
        print_figure(Figure("push encryption (aes128gcm), one message", encrypt, "ms",
                            note=f"a VAPID signature {sign:.3f} ms, made once per push service for 11.5 hours; "
                                 f"ceiling of one core on encryption alone {1000 / encrypt:,.0f}/s"), results)
    finally:
        sink.stop()
        push.stop()
        if not args.keep_db:
            drop_database(DB_NAME)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("channels")
    group.add_argument("--email-n", type=int, default=4000, help="emails to send (default 4000)")
    group.add_argument("--push-n", type=int, default=2000, help="push messages to send (default 2000)")
    group.add_argument("--profile-sender", action="store_true",
                       help="print pyinstrument's call tree of each sending process (pip install pyinstrument)")
    group.add_argument("--senders", type=int, default=2, help="sending processes (default 2, as a worker's -c 2)")
    group.add_argument("--smtp-server", choices=sorted(SMTP_SERVERS), default="sink",
                       help="the receiving SMTP server: the bench's own asyncio one (default) or aiosmtpd")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--keep-db", action="store_true")
    add_arguments(parser)
    args = parser.parse_args(argv)
    require_services()
    if args.profile_sender:
        os.environ["BENCH_PROFILE_SENDER"] = "1"
    results: list[Figure] = []
    run(args, results)
    return results


if __name__ == "__main__":
    main()
