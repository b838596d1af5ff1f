"""Web Push keeps its connections and its VAPID header: one keep-alive pool per push service
(never shared with a forked child), one signed header per (push service, key), made again
shortly before it expires; the environment's proxy is used as requests used it.

Through the push stand-in, which checks every message's VAPID JWT (signature, aud, exp, sub)
and decrypts its payload as a browser would.
"""

import json

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


def test_a_refused_connection_is_retried_later_on_a_fresh_pool(pat, pat_checklist, push_configured, settings):
    no_quiet_hours(pat)
    subscribe(pat, push_configured)
    origin = push_connections.push_origin(push_configured.origin + "/push/x")
    pool = connections.pool(origin)
    push_configured.stop()  # the push service is gone: the connection is refused
    from prepapp.reminders.channels.base import Outgoing
    from prepapp.reminders.compose import compose

    reminder = make_due(pat, channels=[PUSH], limit=1)[0]
    reminder = Reminder.objects.select_related("patient", "task__definition", "task__checklist__case").get(pk=reminder.pk)
    results = list(webpush.WebPushTransport().send([Outgoing(reminder=reminder, message=compose(reminder))]))
    assert [r.outcome for r in results] == [Outcome.RETRY]
    # Logged under the name it always had (requests' ConnectionError), and the failed pool dropped.
    assert results[0].detail.endswith(": ConnectionError")
    assert connections.pool(origin) is not pool


def one_message(service, vapid_keys, name: str):
    """What send_one takes for one new browser of the stand-in's: an unsaved subscription, a payload, headers."""
    browser = service.browser(name)
    sub = PushSubscription(endpoint=browser.endpoint, p256dh=browser.p256dh, auth=browser.auth)
    headers = {**VapidHeaders(vapid_keys[1], "mailto:operations@example.org").for_origin(service.origin),
               "Urgency": "normal", "TTL": "60"}
    return browser, sub, b'{"title":"t","body":"b","url":"/","tag":"t","reminder":%d}' % len(service.browsers), headers


def test_a_forked_child_opens_its_own_pool_and_leaves_its_parents_alone(push_service, vapid_keys):
    """A Celery child is forked from a process that may have sent already: two processes writing on
    one socket would interleave their requests, so the child never uses a pool made before the fork."""
    import os

    connections.close()
    browser, sub, payload, headers = one_message(push_service, vapid_keys, "parent's")
    parent_pool = connections.pool(push_service.origin)
    assert webpush.send_one(parent_pool, sub, payload, headers, 2) == (201, None)
    assert push_service.connections_opened == 1
    pid = os.fork()
    if pid == 0:  # the child: exit codes say what it found, os._exit so that nothing of pytest runs here
        code = 0
        try:
            pool = connections.pool(push_service.origin)
            if pool is parent_pool:
                code = 3
            elif webpush.send_one(pool, sub, payload, headers, 2)[0] != 201:
                code = 4
            elif connections.pool(push_service.origin) is not pool:  # and the child keeps its own
                code = 5
        except BaseException:
            code = 6
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert push_service.connections_opened == 2  # the child's own connection
    # The parent's kept connection is untouched by the child and carries the next message.
    assert connections.pool(push_service.origin) is parent_pool
    assert webpush.send_one(parent_pool, sub, payload, headers, 2) == (201, None)
    assert push_service.connections_opened == 2
    assert len(browser.received) == 3 and not push_service.errors


def test_every_header_goes_out_as_before(push_service, vapid_keys):
    """TTL, Urgency, Topic, Authorization (vapid) as given, the encoding added; the body decrypts."""
    connections.close()
    browser, sub, payload, headers = one_message(push_service, vapid_keys, "phone")
    headers["Topic"] = "reminder-7"
    assert webpush.send_one(connections.pool(push_service.origin), sub, payload, headers, 2) == (201, None)
    (record,) = push_service.accepted()
    assert record.headers["ttl"] == "60" and record.headers["urgency"] == "normal"
    assert record.headers["topic"] == "reminder-7" and record.headers["content-encoding"] == "aes128gcm"
    assert record.headers["authorization"] == headers["Authorization"]
    assert record.payload == json.loads(payload) and not push_service.errors


def test_an_answer_past_202_is_handed_back_with_its_retry_after(push_service, vapid_keys):
    connections.close()
    browser, sub, payload, headers = one_message(push_service, vapid_keys, "busy")
    push_service.answer(browser, 429, retry_after="120")
    assert webpush.send_one(connections.pool(push_service.origin), sub, payload, headers, 2) == (429, "120")


class ForwardingProxy:
    """A plain HTTP proxy on loopback (absolute-form requests, forwarded as they came), counting
    what it forwarded and the Proxy-Authorization it was shown."""

    def __init__(self):
        import http.client
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import urlsplit

        proxy = self
        self.forwarded, self.credentials = 0, []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                target = urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                proxy.credentials.append(self.headers.get("Proxy-Authorization"))
                headers = {k: v for k, v in self.headers.items() if k.lower() != "proxy-authorization"}
                upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=5)
                upstream.request("POST", target.path, body=body, headers=headers)
                answer = upstream.getresponse()
                data = answer.read()
                proxy.forwarded += 1
                self.send_response(answer.status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                upstream.close()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def test_the_environments_proxy_carries_the_messages_with_its_credentials(push_service, vapid_keys, monkeypatch):
    import base64

    proxy = ForwardingProxy()
    try:
        for name in ("NO_PROXY", "no_proxy", "http_proxy", "all_proxy", "ALL_PROXY"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", proxy.url.replace("http://", "http://ops:s%40cret@"))
        connections.close()
        browser, sub, payload, headers = one_message(push_service, vapid_keys, "proxied")
        pool = connections.pool(push_service.origin)
        for _ in range(2):
            assert webpush.send_one(pool, sub, payload, headers, 2) == (201, None)
        assert proxy.forwarded == 2 and len(browser.received) == 2 and not push_service.errors
        assert proxy.credentials == ["Basic " + base64.b64encode(b"ops:s@cret").decode()] * 2
        # no_proxy names the push service: the messages go to it directly.
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        connections.close()
        assert webpush.send_one(connections.pool(push_service.origin), sub, payload, headers, 2) == (201, None)
        assert proxy.forwarded == 2 and len(browser.received) == 3
    finally:
        connections.close()
        proxy.stop()


def test_https_push_services_are_verified_with_the_operators_ca_bundle(monkeypatch, tmp_path):
    """As requests did: REQUESTS_CA_BUNDLE (or CURL_CA_BUNDLE) when set, else certifi's bundle."""
    import certifi

    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    default = push_connections.OriginPool("https://push.example.net").connection_pool
    assert (default.cert_reqs, default.ca_certs) == ("CERT_REQUIRED", certifi.where())
    bundle = tmp_path / "operator-ca.pem"
    bundle.write_text(open(certifi.where()).read())
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    own = push_connections.OriginPool("https://push.example.net").connection_pool
    assert (own.cert_reqs, own.ca_certs) == ("CERT_REQUIRED", str(bundle))
