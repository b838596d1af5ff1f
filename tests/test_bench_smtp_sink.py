"""The bench's SMTP server: a real SMTP exchange, every message checked before it counts."""

import asyncio
import smtplib
import threading

import pytest

from bench.channels import SinkSession


@pytest.fixture
def sink():
    """The server on a free loopback port, in a thread; yields (port, reminder ids received)."""
    # Its loop lives in that thread only: the browser tests' Playwright keeps a loop running in
    # this one.
    received: list[int] = []
    loop = asyncio.new_event_loop()
    listening: list = []
    ready = threading.Event()

    def serve():
        asyncio.set_event_loop(loop)
        listening.append(loop.run_until_complete(loop.create_server(lambda: SinkSession(received), "127.0.0.1", 0)))
        ready.set()
        loop.run_forever()
        listening[0].close()
        loop.run_until_complete(listening[0].wait_closed())
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10)
    yield listening[0].sockets[0].getsockname()[1], received
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


def message(reminder_id, to="pat@example.org", body="Hello\r\n.a line that starts with a dot\r\n"):
    return f"To: {to}\r\nX-Reminder-Id: {reminder_id}\r\nSubject: Hi\r\n\r\n{body}".encode()


def test_messages_arrive_whole_over_one_session(sink):
    port, received = sink
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("pipelining")
        for reminder_id in (1, 2, 3):
            smtp.sendmail("noreply@example.org", ["pat@example.org"], message(reminder_id))
    assert received == [1, 2, 3]


def test_a_message_not_whole_is_refused(sink):
    port, received = sink
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            smtp.sendmail("noreply@example.org", ["pat@example.org"], b"Subject: no reminder id\r\n\r\nHi\r\n")
        assert refused.value.smtp_code == 554
        with pytest.raises(smtplib.SMTPDataError):  # addressed to someone else than the envelope says
            smtp.sendmail("noreply@example.org", ["pat@example.org"], message(7, to="paul@example.org"))
        smtp.sendmail("noreply@example.org", ["pat@example.org"], message(8))
    assert received == [8]


def test_commands_out_of_order_are_refused(sink):
    port, _received = sink
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.ehlo()
        assert smtp.rcpt("pat@example.org")[0] == 503
        assert smtp.docmd("DATA")[0] == 503
        assert smtp.docmd("VRFY", "pat")[0] == 500
