"""A local stand-in for a Web Push service (the only thing the tests do not run for real).

It does what a real push service checks: the VAPID JWT (ES256 signature with the key from
`Authorization: vapid t=...,k=...`, `aud` equal to the endpoint's origin, `exp` in the
future and at most 24 hours ahead, a `sub`), the TTL and Urgency headers, and the
aes128gcm payload, which it decrypts with the fake browser's private key exactly as the
browser would. It can be told to answer 201, 404, 410, 429 (with Retry-After) or 500, or
to hang, per subscription.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def vapid_key_pair() -> tuple[str, str]:
    """A VAPID pair in the format the settings take (public point, raw private), base64url."""
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return b64url(public), b64url(key.private_numbers().private_value.to_bytes(32, "big"))


@dataclass
class FakeBrowser:
    """One browser's push subscription: its own P-256 key pair and 16-byte auth secret."""

    service: "PushService"
    name: str
    private_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth_secret: bytes = field(default_factory=lambda: os.urandom(16))
    token: str = field(default_factory=lambda: secrets.token_urlsafe(12))

    @property
    def endpoint(self) -> str:
        return f"{self.service.origin}/push/{self.token}"

    @property
    def p256dh(self) -> str:
        return b64url(
            self.private_key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )

    @property
    def auth(self) -> str:
        return b64url(self.auth_secret)

    def subscription_json(self) -> dict:
        return {"endpoint": self.endpoint, "expirationTime": None, "keys": {"p256dh": self.p256dh, "auth": self.auth}}

    @property
    def received(self) -> list[dict]:
        return [r.payload for r in self.service.accepted() if r.token == self.token]


@dataclass
class Received:
    token: str
    status: int
    payload: dict | None
    headers: dict
    at: float


class PushService:
    def __init__(self, *, expected_public_key: str | None = None, latency: float = 0.0):
        self.expected_public_key = expected_public_key
        self.latency = latency
        self.browsers: dict[str, FakeBrowser] = {}
        self.modes: dict[str, tuple] = {}  # token -> ("status", code, retry_after) or ("hang", seconds)
        self.records: list[Received] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        # JWTs whose signature checked out, with their claims: a push service verifies a sender's
        # token once, not on every message (the claims are still checked on every message).
        self._verified: dict[str, dict] = {}
        self.connections_opened = 0  # TCP connections accepted: shows whether senders keep theirs
        self.cpu_seconds = 0.0  # CPU time its handler threads spent, to tell its cost from the senders'
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                with service._lock:
                    service.connections_opened += 1

            def log_message(self, *args):
                pass

            def handle_one_request(self):
                started = time.thread_time()
                try:
                    super().handle_one_request()
                finally:
                    spent = time.thread_time() - started
                    with service._lock:
                        service.cpu_seconds += spent

            def do_POST(self):
                service._handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # --- control -----------------------------------------------------------------------

    def start(self) -> "PushService":
        self.thread.start()
        return self

    def stop(self):
        self._release.set()
        self.server.shutdown()
        self.server.server_close()

    def browser(self, name: str = "phone") -> FakeBrowser:
        b = FakeBrowser(self, name)
        self.browsers[b.token] = b
        return b

    def answer(self, browser: FakeBrowser, status: int, retry_after: str | None = None):
        self.modes[browser.token] = ("status", status, retry_after)

    def hang(self, browser: FakeBrowser, seconds: float = 30.0):
        self.modes[browser.token] = ("hang", seconds)

    def accepted(self) -> list[Received]:
        with self._lock:
            return [r for r in self.records if r.status == 201]

    def count_by_reminder(self) -> dict[int, int]:
        """How many times each reminder (by the id in its payload) was accepted."""
        counts: dict[int, int] = {}
        for r in self.accepted():
            key = r.payload.get("reminder")
            counts[key] = counts.get(key, 0) + 1
        return counts

    # --- the protocol -------------------------------------------------------------------

    def _fail(self, handler, status: int, why: str):
        with self._lock:
            self.errors.append(why)
        self._reply(handler, status, why)

    def _reply(self, handler, status: int, text: str = "", headers: dict | None = None):
        body = text.encode()
        handler.send_response(status)
        for k, v in (headers or {}).items():
            handler.send_header(k, v)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _verify_vapid(self, header: str) -> str | None:
        if not header.lower().startswith("vapid "):
            return f"Authorization is not a vapid header: {header[:40]!r}"
        parts = dict(p.strip().split("=", 1) for p in header[6:].split(","))
        token, key = parts.get("t"), parts.get("k")
        if not token or not key:
            return "vapid header without t= and k="
        if self.expected_public_key and key != self.expected_public_key:
            return "signed with another key than the configured VAPID public key"
        claims = self._verified.get(f"{key} {token}")
        if claims is None:
            try:
                head_b64, claims_b64, sig_b64 = token.split(".")
                head = json.loads(unb64url(head_b64))
                claims = json.loads(unb64url(claims_b64))
                sig = unb64url(sig_b64)
                if head.get("alg") != "ES256" or len(sig) != 64:
                    return f"not an ES256 JWT: {head}"
                public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
                der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
                public.verify(der, f"{head_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
            except InvalidSignature:
                return "bad VAPID signature"
            except Exception as exc:  # malformed token
                return f"malformed VAPID token: {exc!r}"
            with self._lock:
                self._verified[f"{key} {token}"] = claims
        now = time.time()
        if claims.get("aud") != self.origin:
            return f"aud {claims.get('aud')!r} is not this service's origin {self.origin!r}"
        if not (now < int(claims.get("exp", 0)) <= now + 24 * 3600 + 60):
            return f"exp {claims.get('exp')} not within the next 24 hours"
        if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
            return f"sub {claims.get('sub')!r} is not a mailto: or https: contact"
        return None

    def _handle(self, handler):
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        if len(body) < length:
            # The sender vanished in the middle of its request (a worker killed with -9): like a
            # real push service, nothing is delivered and there is no one left to answer.
            handler.close_connection = True
            return None
        token = handler.path.rsplit("/", 1)[-1]
        browser = self.browsers.get(token)
        if browser is None or not handler.path.startswith("/push/"):
            return self._reply(handler, 404, "no such subscription")
        if self.latency:
            time.sleep(self.latency)
        problem = self._verify_vapid(handler.headers.get("Authorization", ""))
        if problem:
            return self._fail(handler, 403, problem)
        ttl = handler.headers.get("TTL")
        if ttl is None or not ttl.isdigit():
            return self._fail(handler, 400, f"missing or bad TTL: {ttl!r}")
        urgency = handler.headers.get("Urgency")
        if urgency not in ("very-low", "low", "normal", "high"):
            return self._fail(handler, 400, f"missing or bad Urgency: {urgency!r}")
        if handler.headers.get("Content-Encoding") != "aes128gcm":
            return self._fail(handler, 400, "payload is not aes128gcm")
        try:
            plain = http_ece.decrypt(
                body, private_key=browser.private_key, auth_secret=browser.auth_secret, version="aes128gcm"
            )
            payload = json.loads(plain)
        except Exception as exc:
            return self._fail(handler, 400, f"cannot decrypt payload: {exc!r}")
        if len(plain) > 3072:
            return self._fail(handler, 413, f"payload of {len(plain)} bytes")
        mode = self.modes.get(token, ("status", 201, None))
        if mode[0] == "hang":
            self._release.wait(mode[1])
            status, retry_after = 503, None
        else:
            _, status, retry_after = mode
        headers = {"Retry-After": retry_after} if retry_after else {}
        with self._lock:
            self.records.append(
                Received(token, status, payload, {k.lower(): v for k, v in handler.headers.items()}, time.time())
            )
        if status == 201:
            headers["Location"] = f"{self.origin}/message/{secrets.token_hex(6)}"
        self._reply(handler, status, "" if status == 201 else f"answer {status}", headers)
