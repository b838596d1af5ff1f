"""What a worker process keeps between Web Push batches: one HTTP session per push service, one
VAPID Authorization header per (push service, key).

A push service is a handful of origins (FCM, Mozilla's, Apple's), each receiving thousands of
messages in a morning. Opening a TCP connection per batch, and signing a VAPID JWT (ES256) per
message, cost more than encrypting the message itself. Both are kept per process: a Celery
child opens its own sessions (requests' connection pools are not shared across a fork), and the
header is py_vapid's own, made once and handed out again until shortly before it expires.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Callable
from urllib.parse import urlsplit

import requests
from py_vapid import Vapid

# The JWT's lifetime: pywebpush's own default (12 hours); RFC 8292 allows up to 24.
VAPID_LIFETIME_SECONDS = 12 * 3600
# Made anew this long before it expires, so that a header handed out is never seen expired by a
# push service whose clock runs a little ahead, nor expires while a request waits in a queue.
VAPID_RENEW_BEFORE_SECONDS = 30 * 60


def push_origin(endpoint: str) -> str:
    """The origin of a push endpoint (scheme://host[:port]), the JWT's `aud`."""
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}"


class VapidHeaders:
    """The VAPID headers (Authorization, and Crypto-Key for the older scheme) per push origin, for
    one private key and subject, each reused until VAPID_RENEW_BEFORE_SECONDS before its expiry.

    `clock` returns seconds since the epoch (time.time); the tests pass their own.
    """

    def __init__(self, private_key: str, subject: str, *, clock: Callable[[], float] = time.time):
        self.private_key = private_key
        self.subject = subject
        self.clock = clock
        self._vapid = Vapid.from_string(private_key)
        self._kept: dict[str, tuple[float, dict[str, str]]] = {}  # origin -> (exp, headers)
        self._lock = threading.Lock()

    def for_origin(self, origin: str) -> dict[str, str]:
        now = self.clock()
        with self._lock:
            kept = self._kept.get(origin)
            if kept is not None and now < kept[0] - VAPID_RENEW_BEFORE_SECONDS:
                return kept[1]
            exp = int(now) + VAPID_LIFETIME_SECONDS
            headers = self._vapid.sign({"sub": self.subject, "aud": origin, "exp": exp})
            self._kept[origin] = (exp, headers)
            return headers


def _session_for(origin: str) -> requests.Session:
    """A session for one push origin, with the proxy the environment names for it, looked up once.

    requests otherwise reads the environment's proxy settings and ~/.netrc again on every request
    (about a sixth of a push message's CPU in the bench's profile); they are fixed for a process.
    """
    session = requests.Session()
    session.proxies.update(requests.utils.get_environ_proxies(origin))
    # What else requests takes from the environment: a CA bundle of the operator's.
    session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    session.trust_env = False
    return session


class PushConnections:
    """This process's HTTP sessions (one per push origin, keep-alive) and VAPID headers (one set per key)."""

    def __init__(self):
        self._sessions: dict[str, requests.Session] = {}
        self._headers: dict[tuple[str, str], VapidHeaders] = {}
        self._lock = threading.Lock()

    def session(self, origin: str) -> requests.Session:
        with self._lock:
            session = self._sessions.get(origin)
            if session is None:
                session = self._sessions[origin] = _session_for(origin)
            return session

    def vapid_headers(self, private_key: str, subject: str) -> VapidHeaders:
        with self._lock:
            headers = self._headers.get((private_key, subject))
            if headers is None:
                headers = self._headers[(private_key, subject)] = VapidHeaders(private_key, subject)
            return headers

    def drop_session(self, origin: str) -> None:
        """Forget a session whose connection failed: the next request opens a fresh one."""
        with self._lock:
            session = self._sessions.pop(origin, None)
        if session is not None:
            session.close()

    def close(self) -> None:
        with self._lock:
            sessions, self._sessions = list(self._sessions.values()), {}
            self._headers = {}
        for session in sessions:
            session.close()


# One per process, made on first use in that process (a Celery child after the fork).
connections = PushConnections()
