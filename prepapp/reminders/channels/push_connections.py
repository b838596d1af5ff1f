"""What a worker process keeps between Web Push batches: one keep-alive connection pool per push
service origin, one VAPID Authorization header per (push service, key).

A push service is a handful of origins (FCM, Mozilla's, Apple's), each receiving thousands of
messages in a morning. Opening a TCP connection per batch, and signing a VAPID JWT (ES256) per
message, cost more than encrypting the message itself. Both are kept per process. The pools are
urllib3's own (`HTTPConnectionPool`/`HTTPSConnectionPool`), used directly: a push request needs
none of what a `requests.Session` adds on every call (cookie jar, hooks, prepare_request, the
adapter's per-request checks), which was about half of a message's CPU in the bench's profile.
What `requests` did take from the environment is taken once per origin, with requests' own
helpers, so that it stays the same: the proxy for the origin (and no_proxy), its credentials,
and a CA bundle of the operator's (REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE, else certifi's).

A pool is never shared across a fork: a Celery child that finds pools made by its parent (or by
whichever process it was forked from) starts without them and opens its own, since two processes
writing on one socket would interleave their requests.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Callable
from urllib.parse import urlsplit

import requests.utils
import urllib3
from py_vapid import Vapid

# The JWT's lifetime: pywebpush's own default (12 hours); RFC 8292 allows up to 24.
VAPID_LIFETIME_SECONDS = 12 * 3600
# Made anew this long before it expires, so that a header handed out is never seen expired by a
# push service whose clock runs a little ahead, nor expires while a request waits in a queue.
VAPID_RENEW_BEFORE_SECONDS = 30 * 60
# Connections kept per origin. A process sends one message at a time; a few more are kept only
# should threads ever share it (requests kept up to 10; more than this are closed after use).
POOL_CONNECTIONS = 4


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


def _tls_settings() -> dict:
    """What requests would verify an https push service with (see HTTPAdapter.cert_verify)."""
    where = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") \
        or requests.utils.extract_zipped_paths(requests.utils.DEFAULT_CA_BUNDLE_PATH)
    return {"cert_reqs": "CERT_REQUIRED", **({"ca_cert_dir": where} if os.path.isdir(where) else {"ca_certs": where})}


class OriginPool:
    """Keep-alive connections to one push origin, through the proxy the environment names for it.

    Redirects are not followed (a push service answers 201, or an error): following one would
    post to a host `push_endpoint_error` never checked. Nothing is retried here either, as with
    requests' defaults: a failed request is the transport's to retry later.
    """

    def __init__(self, origin: str):
        self.origin = origin
        https = origin.startswith("https:")
        options = {"maxsize": POOL_CONNECTIONS, "retries": False, **(_tls_settings() if https else {})}
        proxy = requests.utils.select_proxy(origin, requests.utils.get_environ_proxies(origin))
        self._manager: urllib3.ProxyManager | None = None
        self.connection_pool: urllib3.HTTPConnectionPool | None = None  # the pool, when no proxy is in the way
        if proxy:  # made as requests' HTTPAdapter.proxy_manager_for makes it
            proxy = requests.utils.prepend_scheme_if_needed(proxy, "http")
            username, password = requests.utils.get_auth_from_url(proxy)
            if proxy.lower().startswith("socks"):
                from urllib3.contrib.socks import SOCKSProxyManager  # needs PySocks, as with requests

                self._manager = SOCKSProxyManager(proxy, username=username or None, password=password or None,
                                                  num_pools=1, **options)
            else:
                headers = urllib3.make_headers(proxy_basic_auth=f"{username}:{password}") if username else None
                self._manager = urllib3.ProxyManager(proxy, proxy_headers=headers, num_pools=1, **options)
        else:
            self.connection_pool = urllib3.connection_from_url(origin, **options)

    def post(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> urllib3.BaseHTTPResponse:
        """POST and read the whole answer (the connection goes back to the pool for the next message)."""
        if self._manager is not None:  # the proxy manager decides between a tunnel and a forward
            return self._manager.urlopen("POST", url, body=body, headers=headers, timeout=timeout, retries=False,
                                         redirect=False)
        parts = urlsplit(url)
        path = parts.path + ("?" + parts.query if parts.query else "")
        return self.connection_pool.urlopen("POST", path or "/", body=body, headers=headers, timeout=timeout,
                                            retries=False, redirect=False)

    def close(self) -> None:
        if self._manager is not None:
            self._manager.clear()
        else:
            self.connection_pool.close()


class PushConnections:
    """This process's connection pools (one per push origin) and VAPID headers (one set per key)."""

    def __init__(self):
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._pools: dict[str, OriginPool] = {}
        self._headers: dict[tuple[str, str], VapidHeaders] = {}
        self._lock = threading.Lock()

    def _own(self) -> None:
        """Forget, without closing, what another process made before forking this one: its
        sockets are the parent's too, and a lock held then would never be released here."""
        if self._pid != os.getpid():
            self._reset()

    def pool(self, origin: str) -> OriginPool:
        self._own()
        with self._lock:
            pool = self._pools.get(origin)
            if pool is None:
                pool = self._pools[origin] = OriginPool(origin)
            return pool

    def vapid_headers(self, private_key: str, subject: str) -> VapidHeaders:
        self._own()
        with self._lock:
            headers = self._headers.get((private_key, subject))
            if headers is None:
                headers = self._headers[(private_key, subject)] = VapidHeaders(private_key, subject)
            return headers

    def drop_pool(self, origin: str) -> None:
        """Forget a pool whose connection failed: the next request opens a fresh one."""
        self._own()
        with self._lock:
            pool = self._pools.pop(origin, None)
        if pool is not None:
            pool.close()

    def close(self) -> None:
        self._own()
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
            self._headers = {}
        for pool in pools:
            pool.close()


# One per process; a forked child starts with nothing of its parent's (see `_own`).
connections = PushConnections()
