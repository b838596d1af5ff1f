"""The email channel: one SMTP session per batch, HTML and plain text in the patient's language."""

from __future__ import annotations

import smtplib
from typing import Iterator

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from ..compose import day_text
from ..models import Reminder
from .base import Outcome, Outgoing, Result, Transport


def digest_context(patient, message) -> dict:
    """What the digest templates show: the message's lines, grouped, each with its link through the receipt."""
    sections = []
    headings = {
        "overdue": _("Not done yet"),
        "due": _("Due soon"),
        "starting": _("You can start now"),
    }
    for kind in ("overdue", "due", "starting"):
        lines = message.digest.get(kind) or []
        if lines:
            sections.append({
                "kind": kind, "heading": headings[kind],
                "lines": [{"line": line, "link": settings.SITE_URL + message.link(line.task_id)} for line in lines],
            })
    return {
        "patient": patient, "message": message, "sections": sections, "language": patient.language,
        "link": settings.SITE_URL + message.link(), "settings_link": settings.SITE_URL + "/settings/",
    }


class EmailTransport(Transport):
    """Email through Django's backend (EMAIL_URL): HTML and plain text, in the patient's language."""

    channel = Reminder.Channel.EMAIL

    def build(self, item: Outgoing) -> EmailMultiAlternatives:
        reminder, message = item.reminder, item.message
        patient = reminder.patient
        with translation.override(patient.language):
            if message.digest is not None:
                context = digest_context(patient, message)
                text = render_to_string("reminders/email/digest.txt", context)
                html = render_to_string("reminders/email/digest.html", context)
            else:
                if reminder.task_id is None:  # an announcement: its message says it all
                    texts, due_date = {"title": message.title, "instructions": "", "why": ""}, ""
                else:
                    texts = reminder.task.definition.localized(patient.language)
                    due_date = day_text(reminder.task.due_date)
                context = {
                    "patient": patient, "message": message, "task_title": texts["title"],
                    "instructions": texts["instructions"], "why": texts["why"],
                    "due_date": due_date,
                    # Through the receipt: opening the link marks the reminder read.
                    "link": settings.SITE_URL + message.link(reminder.task_id),
                    "settings_link": settings.SITE_URL + "/settings/",
                    "language": patient.language,
                }
                text = render_to_string("reminders/email/reminder.txt", context)
                html = render_to_string("reminders/email/reminder.html", context)
        domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip("> ") or "localhost"
        email = EmailMultiAlternatives(
            subject=message.title,
            body=text,
            to=[patient.contact_email],
            headers={
                # The same id on every attempt: a mail client shows a resent reminder once.
                "Message-ID": f"<reminder-{reminder.id}@{domain}>",
                "X-Reminder-Id": str(reminder.id),
                "Auto-Submitted": "auto-generated",
            },
        )
        email.attach_alternative(html, "text/html")
        return email

    def send(self, items: list[Outgoing]) -> Iterator[Result]:
        # One SMTP session for the whole batch (Django's backend would open one per call otherwise).
        connection = get_connection()
        try:
            for index, item in enumerate(items):
                if not item.reminder.patient.contact_email:
                    yield Result(item.reminder.id, Outcome.UNAVAILABLE, "no email address")
                    continue
                try:
                    connection.open()  # no-op while the session is up; reconnects after an error
                    connection.send_messages([self.build(item)])
                except smtplib.SMTPRecipientsRefused as exc:
                    codes = [code for code, _msg in exc.recipients.values()]
                    outcome = Outcome.FAILED if all(code >= 500 for code in codes) else Outcome.RETRY
                    yield Result(item.reminder.id, outcome, f"recipient refused: {exc.recipients}")
                except smtplib.SMTPResponseException as exc:
                    connection.close()
                    outcome = Outcome.FAILED if exc.smtp_code >= 500 else Outcome.RETRY
                    yield Result(item.reminder.id, outcome, f"SMTP {exc.smtp_code}: {exc.smtp_error!r}")
                except (smtplib.SMTPException, OSError) as exc:
                    detail = f"SMTP unavailable: {exc.__class__.__name__}: {exc}"
                    connection.close()
                    try:
                        connection.open()  # a dropped session: carry on with a new one
                    except (smtplib.SMTPException, OSError):
                        # The server is unreachable: this and the rest of the batch wait for a
                        # retry, rather than each waiting for its own connection timeout.
                        for rest in items[index:]:
                            yield Result(rest.reminder.id, Outcome.RETRY, detail)
                        return
                    yield Result(item.reminder.id, Outcome.RETRY, detail)
                else:
                    yield Result(item.reminder.id, Outcome.SENT)
        finally:
            connection.close()
