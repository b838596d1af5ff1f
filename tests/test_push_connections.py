"""Web Push keeps its connections and its VAPID header: one session per push service, one signed
header per (push service, key), made again shortly before it expires.

Through the push stand-in, which checks every message's VAPID JWT (signature, aud, exp, sub)
and decrypts its payload as a browser would.
"""

import pytest

from prepapp.reminders.channels import push_connections, webpush
from prepapp.reminders.channels.base import Outcome
from prepapp.reminders.channels.push_connections import (
    VAPID_LIFETIME_SECONDS,
    VAPID_RENEW_BEFORE_SECONDS,
    VapidHeaders,
    connections,
)
from prepapp.reminders.models import PushSubscription, Reminder

from .support.fixtures import subscribe
from .support.outbox import deliver_all, make_due, no_quiet_hours

pytestmark = pytest.mark.django_db
PUSH = Reminder.Channel.PUSH


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def jwt_claims(headers: dict) -> dict:
    import json

    from tests.support.push_service import unb64url

    token = dict(p.strip().split("=", 1) for p in headers["Authorization"][6:].split(","))["t"]
    return json.loads(unb64url(token.split(".")[1]))


def test_the_header_is_made_once_per_origin_and_renewed_before_it_expires(push_service, vapid_keys):
    import time

    clock = Clock(time.time())
    headers = VapidHeaders(vapid_keys[1], "mailto:operations@example.org", clock=clock)
    first = headers.for_origin(push_service.origin)
    # The stand-in accepts it: a valid ES256 JWT for its origin, with our public key.
    assert push_service._verify_vapid(first["Authorization"]) is None
    assert jwt_claims(first)["exp"] == int(clock.now) + VAPID_LIFETIME_SECONDS
    # Another origin gets a header of its own (aud is the origin).
    other = headers.for_origin("https://push.example.net")
    assert jwt_claims(other)["aud"] == "https://push.example.net" != jwt_claims(first)["aud"]
    # Reused, the very same header, until shortly before its expiry...
    clock.now += VAPID_LIFETIME_SECONDS - VAPID_RENEW_BEFORE_SECONDS - 1
    assert headers.for_origin(push_service.origin) is first
    # ...then made anew, expiring later, and still valid for the push service.
    clock.now += 2
    renewed = headers.for_origin(push_service.origin)
    assert renewed is not first
    assert jwt_claims(renewed)["exp"] == int(clock.now) + VAPID_LIFETIME_SECONDS > jwt_claims(first)["exp"]
    assert push_service._verify_vapid(renewed["Authorization"]) is None


def test_batches_reuse_one_connection_and_one_signed_header(pat, pat_checklist, push_configured,
                                                          django_capture_on_commit_callbacks):
    no_quiet_hours(pat)
    connections.close()  # this process starts with nothing kept
    phone = subscribe(pat, push_configured)
    rows = make_due(pat, channels=[PUSH], limit=6)
    assert len(rows) >= 4
    deliver_all(django_capture_on_commit_callbacks)
    assert {Reminder.objects.get(pk=r.pk).status for r in rows} == {Reminder.Status.SENT}
    received = push_configured.accepted()
    assert len(phone.received) == len(rows) and not push_configured.errors
    # Every message carried the same signed header, each checked by the stand-in, over one connection.
    assert len({r.headers["authorization"] for r in received}) == 1
    assert push_configured.connections_opened == 1
    # A second delivery run of this process: still that connection and that header.
    more = make_due(pat, channels=[PUSH], limit=6)
    deliver_all(django_capture_on_commit_callbacks)
    assert {Reminder.objects.get(pk=r.pk).status for r in more} == {Reminder.Status.SENT}
    assert push_configured.connections_opened == 1
    assert len({r.headers["authorization"] for r in push_configured.accepted()}) == 1


@pytest.mark.parametrize("code", [404, 410])
def test_a_gone_subscription_is_still_removed_on_the_kept_session(pat, pat_checklist, push_configured, code,
                                                                  django_capture_on_commit_callbacks):
    no_quiet_hours(pat)
    kept, gone = subscribe(pat, push_configured, "laptop"), subscribe(pat, push_configured, "old phone")
    push_configured.answer(gone, code)
    rows = make_due(pat, channels=[PUSH], limit=2)
    deliver_all(django_capture_on_commit_callbacks)
    assert not PushSubscription.objects.filter(endpoint=gone.endpoint).exists()
    assert PushSubscription.objects.filter(endpoint=kept.endpoint).exists()
    assert {Reminder.objects.get(pk=r.pk).status for r in rows} == {Reminder.Status.SENT}
    assert len(kept.received) == len(rows)


def test_a_refused_connection_is_retried_later_on_a_fresh_session(pat, pat_checklist, push_configured, settings):
    no_quiet_hours(pat)
    subscribe(pat, push_configured)
    origin = push_connections.push_origin(push_configured.origin + "/push/x")
    session = connections.session(origin)
    push_configured.stop()  # the push service is gone: the connection is refused
    from prepapp.reminders.channels.base import Outgoing
    from prepapp.reminders.compose import compose

    reminder = make_due(pat, channels=[PUSH], limit=1)[0]
    reminder = Reminder.objects.select_related("patient", "task__definition", "task__checklist__case").get(pk=reminder.pk)
    results = list(webpush.WebPushTransport().send([Outgoing(reminder=reminder, message=compose(reminder))]))
    assert [r.outcome for r in results] == [Outcome.RETRY]
    assert connections.session(origin) is not session  # the failed one was dropped
