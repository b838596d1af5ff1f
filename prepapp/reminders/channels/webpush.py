"""The Web Push channel (VAPID by py_vapid, aes128gcm by pywebpush, posted on kept urllib3 pools) and the checks on endpoints browsers hand us."""

from __future__ import annotations

import functools
import json
import string
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Iterator
from urllib.parse import urlsplit

import urllib3
from django.conf import settings
from django.utils import timezone
from pywebpush import WebPusher

from prepapp.reminders.channels.base import Outcome, Outgoing, Result, Transport
from prepapp.reminders.channels.push_connections import OriginPool, connections, push_origin
from prepapp.reminders.compose import Message, reminder_tag
from prepapp.reminders.models import CaregiverPushSubscription, PushSubscription, Reminder

PUSH_PAYLOAD_LIMIT = 3000  # bytes of JSON before encryption; push services accept about 4 KB


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
    if message.receipt:
        # The service worker posts it back when the notification is opened: the read receipt.
        data["receipt"] = message.receipt
    encoded = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    while len(encoded.encode()) > PUSH_PAYLOAD_LIMIT and data["body"]:
        data["body"] = data["body"][: max(0, len(data["body"]) - 200)].rstrip() + "…"
        encoded = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return encoded


TOPIC_ALPHABET = frozenset(string.ascii_letters + string.digits + "-_")
TOPIC_MAX_LENGTH = 32


def push_topic(reminder_id: int) -> str:
    """The RFC 8030 Topic of one reminder: a message the push service still holds for the
    same Topic is replaced, so a repeat of this reminder is never shown twice. At most 32
    characters of the URL-safe base64 alphabet ("reminder-" and up to 23 digits)."""
    topic = reminder_tag(reminder_id)
    if len(topic) > TOPIC_MAX_LENGTH or not set(topic) <= TOPIC_ALPHABET:
        raise ValueError(f"not a valid Web Push Topic: {topic!r}")
    return topic


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
    """Web Push with VAPID: every subscription of the patient, encrypted aes128gcm."""

    channel = Reminder.Channel.PUSH

    def unavailable_reason(self) -> str | None:
        if not (settings.VAPID_PUBLIC_KEY and settings.VAPID_PRIVATE_KEY):
            return "Web Push is not configured (no VAPID keys)"
        return None

    @staticmethod
    def owner(reminder: Reminder) -> tuple[str, int]:
        """Whose phones a row goes to: the patient's, or for a family row the caregiver's own."""
        if reminder.for_family:
            return ("caregiver", reminder.caregiver.caregiver_id)
        return ("patient", reminder.patient_id)

    @staticmethod
    def key(sub) -> tuple:
        return (type(sub), sub.id)

    @staticmethod
    def subscriptions(items: list[Outgoing]) -> dict[tuple[str, int], list]:
        """{owner: their subscriptions, oldest first}, read once for the batch."""
        found: dict[tuple[str, int], list] = {}
        patients = {i.reminder.patient_id for i in items if not i.reminder.for_family}
        caregivers = {i.reminder.caregiver.caregiver_id for i in items if i.reminder.for_family}
        if patients:
            for sub in PushSubscription.objects.filter(patient_id__in=patients).order_by("id"):
                found.setdefault(("patient", sub.patient_id), []).append(sub)
        if caregivers:
            for sub in CaregiverPushSubscription.objects.filter(user_id__in=caregivers).order_by("id"):
                found.setdefault(("caregiver", sub.user_id), []).append(sub)
        return found

    def send(self, items: list[Outgoing]) -> Iterator[Result]:
        reason = self.unavailable_reason()
        if reason:
            for item in items:
                yield Result(item.reminder.id, Outcome.UNAVAILABLE, reason)
            return
        vapid = connections.vapid_headers(settings.VAPID_PRIVATE_KEY, settings.VAPID_SUBJECT)
        subscriptions = self.subscriptions(items)
        gone: set = set()
        delivered: set = set()
        ttl = str(settings.REMINDER_MAX_LATENESS_HOURS * 3600)  # shown later than this, a reminder is noise
        timeout = settings.WEBPUSH_TIMEOUT_SECONDS
        checked: dict[str, tuple[str | None, str]] = {}  # endpoint -> (why not, origin)
        try:
            for item in items:
                subs = [s for s in subscriptions.get(self.owner(item.reminder), []) if self.key(s) not in gone]
                if not subs:
                    yield Result(item.reminder.id, Outcome.UNAVAILABLE, "no push subscription")
                    continue
                payload = push_payload(item.message).encode()
                ok, transient, permanent, retry_after, notes = False, [], [], None, []
                for sub in subs:
                    if sub.endpoint not in checked:  # once per subscription and batch, not per message
                        checked[sub.endpoint] = (push_endpoint_error(sub.endpoint), push_origin(sub.endpoint))
                    problem, origin = checked[sub.endpoint]
                    if problem:
                        permanent.append(f"subscription {sub.id}: endpoint {problem}")
                        continue
                    headers = {**vapid.for_origin(origin), "Urgency": "normal", "Topic": push_topic(item.reminder.id),
                               "TTL": ttl}
                    try:
                        code, retry_header = send_one(connections.pool(origin), sub, payload, headers, timeout)
                    except (urllib3.exceptions.HTTPError, OSError) as exc:
                        connections.drop_pool(origin)  # the next request opens a fresh connection
                        transient.append(f"subscription {sub.id}: {failure_name(exc)}")
                        continue
                    if code <= 202:
                        ok = True
                        delivered.add(self.key(sub))
                    elif code in (404, 410):
                        # The browser unsubscribed or the subscription expired: forget it.
                        gone.add(self.key(sub))
                        type(sub).objects.filter(id=sub.id).delete()
                        notes.append(f"subscription {sub.id} gone ({code}), removed")
                    elif code == 429:
                        wait = parse_retry_after(retry_header)
                        retry_after = max(retry_after or 0, wait or 0) or None
                        transient.append(f"subscription {sub.id}: 429 too many requests")
                    elif code >= 500:
                        transient.append(f"subscription {sub.id}: {code}")
                    else:
                        permanent.append(f"subscription {sub.id}: refused with {code}")
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
            for model in (PushSubscription, CaregiverPushSubscription):
                ids = [pk for kind, pk in delivered if kind is model]
                if ids:
                    model.objects.filter(id__in=ids).update(last_success_at=timezone.now())


@functools.lru_cache(maxsize=1024)
def _encoder(p256dh: str, auth: str) -> WebPusher:
    """pywebpush's encoder for one browser's keys, made once (it decodes and checks the keys).

    Only its `encode` is used: the message is posted on this process's kept pool below. The
    endpoint plays no part in the encryption, so none is given.
    """
    return WebPusher({"endpoint": "", "keys": {"p256dh": p256dh, "auth": auth}})


def encrypt(payload: bytes, p256dh: str, auth: str) -> bytes:
    """The aes128gcm body (RFC 8291) of one message, by pywebpush: a key pair made for this
    message alone, ECDH with the browser's key, http_ece's encryption (4096-byte records)."""
    return _encoder(p256dh, auth).encode(payload, content_encoding="aes128gcm")["body"]


def send_one(pool: OriginPool, sub, payload: bytes, headers: dict, timeout: float) -> tuple[int, str | None]:
    """Encrypt one message for one subscription and post it on this process's kept pool for its
    push service; returns the answer's status and its Retry-After. `headers` are the VAPID ones,
    Urgency, Topic and TTL; the encoding is added here."""
    body = encrypt(payload, sub.p256dh, sub.auth)
    response = pool.post(sub.endpoint, body, {**headers, "Content-Encoding": "aes128gcm"}, timeout)
    return response.status, response.headers.get("Retry-After")


def failure_name(exc: Exception) -> str:
    """The name a failed request is logged under: requests' exception names, which the delivery
    log has always shown (ReadTimeout, ConnectTimeout, ConnectionError, SSLError, ProxyError)."""
    errors = urllib3.exceptions
    if isinstance(exc, errors.ProxyError):
        return "ProxyError"
    if isinstance(exc, errors.SSLError):
        return "SSLError"
    if isinstance(exc, errors.ReadTimeoutError):
        return "ReadTimeout"
    if isinstance(exc, errors.ConnectTimeoutError) and not isinstance(exc, errors.NewConnectionError):
        return "ConnectTimeout"
    return "ConnectionError"
