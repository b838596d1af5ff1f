"""The channels a reminder can go out on, behind one base class.

A transport gets reminders that have passed every check and are ready to go, with their
text already composed in the patient's language, and yields one Result per reminder as
it goes. It never changes a reminder's status: recording the outcome, retrying and
falling back belong to `delivery`, which is the same for every channel.
"""

from __future__ import annotations

import enum
import json
import logging
import smtplib
from dataclasses import dataclass
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from typing import Iterator
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from .models import InboxMessage, PushSubscription, Reminder

log = logging.getLogger(__name__)

PUSH_PAYLOAD_LIMIT = 3000  # bytes of JSON before encryption; push services accept about 4 KB


class Outcome(enum.Enum):
    SENT = "sent"
    RETRY = "retry"  # a passing problem: try again later
    FAILED = "failed"  # the channel refused this message for good
    UNAVAILABLE = "unavailable"  # the channel cannot reach this patient at all (no keys, no subscription)


@dataclass
class Result:
    reminder_id: int
    outcome: Outcome
    detail: str = ""
    retry_after: float | None = None  # seconds, when the far side asked for a pause


@dataclass
class Message:
    title: str
    body: str
    url: str  # a path inside the patient app
    tag: str
    reminder: int | None = None


@dataclass
class Outgoing:
    reminder: Reminder
    message: Message


# --- Composing ---------------------------------------------------------------------------


def task_path(task_id: int) -> str:
    return f"/#/tasks/{task_id}"


def _day(value: date) -> str:
    # Written out with the weekday ("Tuesday 1 December"), which reads more easily than "Dec. 1, 2026".
    return formats.date_format(value, pgettext("date in a reminder (PHP date format)", "l j F"))


def compose(reminder: Reminder, now: datetime | None = None) -> Message:
    """The reminder's title and body in the patient's language, worded from where the patient stands today."""
    task = reminder.task
    patient = reminder.patient
    today = patient.local_today(now)
    with translation.override(patient.language):
        name = task.definition.localized(patient.language)["title"]
        days = (task.due_date - today).days
        rule = next((r for r in task.definition.reminder_rules if r["key"] == reminder.rule), {})
        if rule.get("anchor") == "window_start" and days > 0:
            title = _("You can start now: %(task)s") % {"task": name}
            body = _("Please have it done by %(date)s.") % {"date": _day(task.due_date)}
        elif days == 0:
            title = _("Due today: %(task)s") % {"task": name}
            body = _("Open the app to see what to do, and tick it off when it is done.")
        elif days == 1:
            title = _("Due tomorrow: %(task)s") % {"task": name}
            body = _("Please have it done by %(date)s.") % {"date": _day(task.due_date)}
        elif days > 1:
            title = _("Coming up: %(task)s") % {"task": name}
            body = ngettext(
                "Due on %(date)s, in %(days)d day.", "Due on %(date)s, in %(days)d days.", days
            ) % {"date": _day(task.due_date), "days": days}
        else:
            title = _("Not done yet: %(task)s") % {"task": name}
            body = _("This step was due on %(date)s. Tick it off in the app when it is done.") % {
                "date": _day(task.due_date)
            }
    # One tag per task: a newer reminder for the same step replaces the older notification.
    return Message(title=title[:200], body=body, url=task_path(task.id), tag=f"task-{task.id}", reminder=reminder.id)


# --- The base class ----------------------------------------------------------------------


class Transport:
    """One delivery channel. Subclasses set `channel` and implement `send`."""

    channel: str = ""
    # True: `send` only writes to our own database, so delivery runs it inside the
    # transaction that records the outcome (sent and recorded, or neither).
    transactional = False

    def unavailable_reason(self) -> str | None:
        """Why this channel cannot send at all right now (e.g. not configured), or None."""
        return None

    def send(self, items: list[Outgoing]) -> Iterator[Result]:
        raise NotImplementedError


class InAppTransport(Transport):
    """The app's inbox: one InboxMessage per reminder, written in bulk."""

    channel = Reminder.Channel.INAPP
    transactional = True

    def send(self, items: list[Outgoing]) -> Iterator[Result]:
        now = timezone.now()
        # The one-to-one on InboxMessage.reminder makes a second insert for the same
        # reminder a no-op, whatever happened to the status update.
        InboxMessage.objects.bulk_create(
            [
                InboxMessage(
                    patient_id=item.reminder.patient_id, reminder_id=item.reminder.id, task_id=item.reminder.task_id,
                    title=item.message.title, body=item.message.body, created_at=now,
                )
                for item in items
            ],
            ignore_conflicts=True,
        )
        for item in items:
            yield Result(item.reminder.id, Outcome.SENT)


class EmailTransport(Transport):
    """Email through Django's backend (EMAIL_URL): HTML and plain text, in the patient's language."""

    channel = Reminder.Channel.EMAIL

    def build(self, item: Outgoing) -> EmailMultiAlternatives:
        reminder, message = item.reminder, item.message
        patient = reminder.patient
        with translation.override(patient.language):
            texts = reminder.task.definition.localized(patient.language)
            context = {
                "patient": patient, "message": message, "task_title": texts["title"],
                "instructions": texts["instructions"], "why": texts["why"],
                "due_date": _day(reminder.task.due_date), "link": settings.SITE_URL + message.url,
                "settings_link": settings.SITE_URL + "/#/settings",
                "language": patient.language,
            }
            text = render_to_string("prepapp/email/reminder.txt", context)
            html = render_to_string("prepapp/email/reminder.html", context)
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


# --- Web Push ------------------------------------------------------------------------------


def push_endpoint_error(endpoint: str) -> str | None:
    """Why the server must not post to this endpoint, or None.

    Endpoints come from browsers, so they are checked against the push services' hosts:
    otherwise anyone signed in could make the server post to an address of their choice.
    """
    try:
        parts = urlsplit(endpoint)
    except ValueError:
        return "not a URL"
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" and not (parts.scheme == "http" and settings.WEBPUSH_ALLOW_HTTP):
        return "must be an https URL"
    allowed = [h.lower() for h in settings.WEBPUSH_ENDPOINT_HOSTS]
    if "*" not in allowed and not any(host == h.lstrip(".") or (h.startswith(".") and host.endswith(h)) for h in allowed):
        return f"{host or 'this host'} is not a known push service"
    return None


def push_payload(message: Message) -> str:
    """The JSON the service worker receives, trimmed to stay under the size push services accept."""
    data = {"title": message.title, "body": message.body, "url": message.url, "tag": message.tag,
            "reminder": message.reminder}
    encoded = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    while len(encoded.encode()) > PUSH_PAYLOAD_LIMIT and data["body"]:
        data["body"] = data["body"][: max(0, len(data["body"]) - 200)].rstrip() + "…"
        encoded = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return encoded


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: either a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - (now or timezone.now())).total_seconds())


class WebPushTransport(Transport):
    """Web Push with VAPID (pywebpush): every subscription of the patient, encrypted aes128gcm."""

    channel = Reminder.Channel.PUSH

    def unavailable_reason(self) -> str | None:
        if not (settings.VAPID_PUBLIC_KEY and settings.VAPID_PRIVATE_KEY):
            return "Web Push is not configured (no VAPID keys)"
        return None

    def send(self, items: list[Outgoing]) -> Iterator[Result]:
        from py_vapid import Vapid
        from pywebpush import WebPushException, webpush

        reason = self.unavailable_reason()
        if reason:
            for item in items:
                yield Result(item.reminder.id, Outcome.UNAVAILABLE, reason)
            return
        vapid = Vapid.from_string(settings.VAPID_PRIVATE_KEY)
        subscriptions: dict[int, list[PushSubscription]] = {}
        for sub in PushSubscription.objects.filter(patient_id__in={i.reminder.patient_id for i in items}).order_by("id"):
            subscriptions.setdefault(sub.patient_id, []).append(sub)
        gone: set[int] = set()
        delivered: set[int] = set()
        session = requests.Session()
        ttl = settings.REMINDER_MAX_LATENESS_HOURS * 3600  # shown later than this, a reminder is noise
        try:
            for item in items:
                subs = [s for s in subscriptions.get(item.reminder.patient_id, []) if s.id not in gone]
                if not subs:
                    yield Result(item.reminder.id, Outcome.UNAVAILABLE, "no push subscription")
                    continue
                payload = push_payload(item.message)
                ok, transient, permanent, retry_after, notes = False, [], [], None, []
                for sub in subs:
                    problem = push_endpoint_error(sub.endpoint)
                    if problem:
                        permanent.append(f"subscription {sub.id}: endpoint {problem}")
                        continue
                    try:
                        webpush(
                            subscription_info={"endpoint": sub.endpoint, "keys": {"p256dh": sub.p256dh, "auth": sub.auth}},
                            data=payload,
                            vapid_private_key=vapid,
                            vapid_claims={"sub": settings.VAPID_SUBJECT},
                            ttl=ttl,
                            headers={"Urgency": "normal", "Topic": f"task-{item.reminder.task_id}"},
                            timeout=settings.WEBPUSH_TIMEOUT_SECONDS,
                            requests_session=session,
                        )
                    except WebPushException as exc:
                        code = exc.status_code
                        if code in (404, 410):
                            # The browser unsubscribed or the subscription expired: forget it.
                            gone.add(sub.id)
                            PushSubscription.objects.filter(id=sub.id).delete()
                            notes.append(f"subscription {sub.id} gone ({code}), removed")
                        elif code == 429:
                            wait = parse_retry_after(exc.retry_after)
                            retry_after = max(retry_after or 0, wait or 0) or None
                            transient.append(f"subscription {sub.id}: 429 too many requests")
                        elif code is None or code >= 500:
                            transient.append(f"subscription {sub.id}: {code or 'no response'}")
                        else:
                            permanent.append(f"subscription {sub.id}: refused with {code}")
                    except requests.RequestException as exc:
                        transient.append(f"subscription {sub.id}: {exc.__class__.__name__}")
                    else:
                        ok = True
                        delivered.add(sub.id)
                detail = "; ".join(notes + transient + permanent)
                if ok:
                    yield Result(item.reminder.id, Outcome.SENT, detail)
                elif transient:
                    yield Result(item.reminder.id, Outcome.RETRY, detail, retry_after=retry_after)
                elif permanent:
                    yield Result(item.reminder.id, Outcome.FAILED, detail)
                else:
                    yield Result(item.reminder.id, Outcome.UNAVAILABLE, detail or "no push subscription")
        finally:
            session.close()
            if delivered:
                PushSubscription.objects.filter(id__in=delivered).update(last_success_at=timezone.now())


TRANSPORTS: dict[str, type[Transport]] = {
    Reminder.Channel.INAPP: InAppTransport,
    Reminder.Channel.EMAIL: EmailTransport,
    Reminder.Channel.PUSH: WebPushTransport,
}


def for_channel(channel: str) -> Transport:
    return TRANSPORTS[channel]()
