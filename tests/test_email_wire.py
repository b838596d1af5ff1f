"""Reminder emails written straight to bytes are the bytes Django's mail API would have sent.

`EmailTransport.wire` skips Django's MIME objects for speed; these tests hold it to the
reference (`EmailTransport.build(...).message().as_bytes()`), byte for byte, apart from the
two things that differ between any two builds: the random MIME boundary and the Date.
"""

import dataclasses
import re
import smtplib

import pytest
from django.core import mail

from prepapp.reminders import compose
from prepapp.reminders.channels.base import Outcome, Outgoing
from prepapp.reminders.channels.email import EmailTransport, _reference_bytes, reminder_headers, send_one, wire_bytes
from prepapp.reminders.models import DIGEST_RULE, Reminder
from prepapp.workflows import patient_update

from .support.outbox import make_due, no_quiet_hours
from .support.smtp import SmtpSink

EMAIL = Reminder.Channel.EMAIL


def comparable(data: bytes) -> bytes:
    """The message with its boundary and its Date replaced by fixed stand-ins."""
    boundary = re.search(rb'boundary="([^"]+)"', data).group(1)
    assert data.count(b"--" + boundary) == 3  # opening, between the parts, closing
    data = data.replace(boundary, b"BOUNDARY")
    return re.sub(rb"\r\nDate: [^\r\n]+\r\n", b"\r\nDate: (date)\r\n", data, count=1)


def reference(subject, to, reminder_id, text, html) -> bytes:
    message = mail.EmailMultiAlternatives(subject=subject, body=text, to=[to], headers=reminder_headers(reminder_id))
    message.attach_alternative(html, "text/html")
    return _reference_bytes(message)


TEXT = "Hello Pat,\n\nStop taking ibuprofen\nOpen it in the app: https://prep.example.org/r/abc/?to=12\n"
HTML = '<!DOCTYPE html>\n<p style="margin:0">Hello Pat,</p>\n<a href="https://prep.example.org/r/abc/">Open</a>\n'
ES_TEXT = "Hola, Paula:\n\nPróximamente: Deje de fumar\nÁbralo en la aplicación: https://prep.example.org/r/x/\n"
ES_HTML = "<p>Hola, Paula:</p>\n<p>Próximamente: Deje de fumar y de usar toda forma de nicotina</p>\n"


@pytest.mark.parametrize("subject, to, text, html", [
    ("Due tomorrow: Stop taking anti-inflammatory painkillers", "pat@example.org", TEXT, HTML),
    ("Próximamente: Deje de fumar y de usar toda forma de nicotina", "paula@example.org", ES_TEXT, ES_HTML),
    ("Short", "pat@example.org", ES_TEXT, HTML),  # one part 8bit, the other 7bit
    ("A subject long enough that compat32 has to fold it over more than one line, at a space", "p@example.org",
     TEXT, HTML),
    ("Überlang " * 12, "p@example.org", TEXT, HTML),  # long and non-ASCII: several encoded words
    ("Two  spaces and =?utf-8?q?not_a_word?= inside", "p@example.org", TEXT, HTML),
    ("An empty page", "p@example.org", TEXT, ""),
    ("Line breaks of every kind", "p@example.org", "one\r\ntwo\rthree\nfour", "a\r\nb\rc\nd\n\n"),
    ("An address in another script", "paciente@correo.españa.example", TEXT, HTML),
])
def test_wire_bytes_are_djangos_bytes(subject, to, text, html):
    written = wire_bytes(subject, to, reminder_headers(1234), text, html)
    assert comparable(written) == comparable(reference(subject, to, 1234, text, html))


@pytest.mark.parametrize("text, html", [
    ("x" * 1200 + "\nshort\n", HTML),  # quoted-printable for the long line
    (TEXT, "<p>" + "é" * 600 + "</p>"),  # 1,200 bytes on one line
    ("", HTML),  # no text part at all
])
def test_what_wire_bytes_leaves_to_django(text, html):
    assert wire_bytes("Subject", "p@example.org", reminder_headers(1), text, html) is None


def outgoing(rows) -> list[Outgoing]:
    rows = Reminder.objects.filter(pk__in=[r.pk for r in rows]).select_related(
        "patient", "task__definition", "task__checklist__case").order_by("id")
    return [Outgoing(reminder=r, message=compose.compose(r)) for r in rows]


@pytest.mark.django_db
def test_reminders_and_digests_on_the_wire_in_english_and_spanish(pat, pat_checklist, paul, protocol_version, carol):
    from prepapp.workflows import case_book, checklist_assign

    from .factories import days_from_today

    patient_update(patient=paul, contact_email="paul@example.org")
    checklist_assign(case=case_book(patient=paul, procedure="Fusión", surgery_date=days_from_today(40)),
                     protocol_version=protocol_version, assigned_by=carol)
    # Digests composed first: make_due replaces every planned row of the patient.
    items = [*outgoing(Reminder.objects.filter(patient=pat, rule=DIGEST_RULE)[:3]),
             *outgoing(Reminder.objects.filter(patient=paul, rule=DIGEST_RULE)[:3])]
    no_quiet_hours(pat, paul)
    items += outgoing(make_due(pat, channels=[EMAIL]) + make_due(paul, channels=[EMAIL]))
    assert {i.reminder.patient.language for i in items} == {"en", "es"}
    assert any(i.message.digest is not None for i in items)
    transport = EmailTransport()
    for item in items:
        # The reference: the templates rendered in full, Django's message, Django's bytes.
        full = transport.build(item, transport.render_templates(item))
        assert comparable(transport.wire(item)) == comparable(_reference_bytes(full))


@pytest.mark.django_db
@pytest.mark.parametrize("name, title, body, instructions, why", [
    ("O'Brien & <Sons> \"Jr\"", "A <b>bold</b> & 'quoted' title", "Line one\nLine two & <three>\n\nafter a blank",
     "Step 1 <a href=x>\r\nStep 2 & more", "Because \"it\" <matters>"),
    ("Pat", "Title", "Body", "", ""),  # neither optional paragraph
    ("Pat", "Title", "Body", "", "Only why"),
    ("Pat", "Title", "", "Only instructions", ""),
    ("Pat\x00", "A stand-in's mark in a value", "Body", "x", "y"),  # goes through the templates in full
])
def test_frames_filled_in_are_the_full_render(pat, pat_checklist, name, title, body, instructions, why):
    no_quiet_hours(pat)
    [item] = outgoing(make_due(pat, channels=[EMAIL], limit=1))
    item.reminder.patient.full_name = name
    item.message = dataclasses.replace(item.message, title=title, body=body)
    item.reminder.task.definition.instructions, item.reminder.task.definition.why = instructions, why
    item.reminder.task.definition.translations = {}
    transport = EmailTransport()
    for language in ("en", "es"):
        item.reminder.patient.language = language
        assert transport.render(item) == transport.render_templates(item)


@pytest.mark.django_db
def test_other_backends_still_get_djangos_message(pat, pat_checklist, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    no_quiet_hours(pat)
    rows = make_due(pat, channels=[EMAIL], limit=2)
    results = list(EmailTransport().send(outgoing(rows)))
    assert [r.outcome for r in results] == [Outcome.SENT, Outcome.SENT]
    assert sorted(m.extra_headers["X-Reminder-Id"] for m in mail.outbox) == sorted(str(r.id) for r in rows)
    assert all(m.alternatives and m.to == ["pat@example.org"] for m in mail.outbox)


# --- Over SMTP, with and without PIPELINING ------------------------------------------------


@pytest.fixture(params=[False, True], ids=["one-command-at-a-time", "pipelining"])
def sink(request, settings):
    server = SmtpSink(pipelining=request.param).start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", server.port, 5
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield server
    server.stop()


@pytest.mark.django_db
def test_a_batch_arrives_as_rendered(pat, pat_checklist, sink):
    no_quiet_hours(pat)
    items = outgoing(make_due(pat, channels=[EMAIL], limit=4))
    transport = EmailTransport()
    assert [r.outcome for r in transport.send(items)] == [Outcome.SENT] * 4
    by_id = {int(m["X-Reminder-Id"]): m for m in sink.received()}
    assert sorted(by_id) == sorted(i.reminder.id for i in items)
    for item in items:
        message, (text, html) = by_id[item.reminder.id], transport.render(item)
        assert message["Subject"] == item.message.title and message["To"] == "pat@example.org"
        assert message["Message-ID"] == f"<reminder-{item.reminder.id}@localhost>"
        # As sent: CRLF line ends.
        assert message.get_body(("plain",)).get_content() == text.replace("\n", "\r\n")
        assert message.get_body(("html",)).get_content() == html.replace("\n", "\r\n")


def test_send_one_keeps_the_session_usable_after_a_refusal(sink):
    sink.refuse["gone@example.org"] = "550 No such user"
    sink.refuse["full@example.org"] = "452 Mailbox full"
    body = "Hello\r\n.a line that starts with a dot\r\n..and two\r\n"
    data = f"To: pat@example.org\r\nX-Reminder-Id: 5\r\nSubject: Hi\r\n\r\n{body}".encode()
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=5) as smtp:
        for address, code in (("gone@example.org", 550), ("full@example.org", 452)):
            with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
                send_one(smtp, "noreply@localhost", address, data)
            assert refused.value.recipients[address][0] == code
        send_one(smtp, "noreply@localhost", "pat@example.org", data)
        assert smtp.has_extn("pipelining") == sink.pipelining
    [message] = sink.received()
    assert message["X-Reminder-Id"] == "5" and message.get_content() == body


@pytest.mark.django_db
def test_refused_recipients_fail_or_wait_and_the_batch_goes_on(pat, pat_checklist, sink):
    no_quiet_hours(pat)
    items = outgoing(make_due(pat, channels=[EMAIL], limit=3))
    transport = EmailTransport()
    sink.refuse["pat@example.org"] = "550 No such user"
    assert [r.outcome for r in transport.send(items[:2])] == [Outcome.FAILED] * 2
    sink.refuse["pat@example.org"] = "451 Try again later"
    assert [r.outcome for r in transport.send(items[:2])] == [Outcome.RETRY] * 2
    del sink.refuse["pat@example.org"]
    assert [r.outcome for r in transport.send(items)] == [Outcome.SENT] * 3
    assert sorted(sink.count_by_reminder()) == sorted(i.reminder.id for i in items)
