"""The session store: Django's database sessions, read with their user in one statement.

Sessions stay in the database (the record of who is signed in: a flushed or restarted Redis
signs nobody out). Two things are saved on each request. The lookup is compiled to SQL once
per process. And a patient's session, whose user this process has already seen (the session's
own data names it, signed), is read in the same statement as that user with their patient
record and session generation: one round trip instead of two. The guess is checked against
the session data just read; a wrong or missing guess reads the user on its own, as before.
"""

from __future__ import annotations

from datetime import datetime, timezone as dt_timezone

from django.contrib.auth import BACKEND_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.contrib.sessions.models import Session
from django.core.signals import request_started
from django.utils import timezone

from prepapp.authentication import SESSION_USER_BACKEND, forget_user_read_with_session, keep_user_read_with_session, session_user
from prepapp.lib.lru import LRU
from prepapp.lib.prepared import PreparedPair, PreparedQuery

_session_row = PreparedQuery(
    lambda key, now: Session.objects.filter(session_key=key, expire_date__gt=now)[:1],
    stand_ins=("\x00no-such-session\x00", datetime(1901, 1, 1, tzinfo=dt_timezone.utc)),
)
_session_row_with_user = PreparedPair(_session_row, session_user)

# Whose each recently seen patient session is (session key to user id, from the session's own
# data), so that its next read can bring the user along. At most this many per process.
KNOWN_SESSIONS = 10_000


_known_sessions = LRU(KNOWN_SESSIONS)


def forget_known_sessions() -> None:
    """Forget whose every session is (as a freshly started process has never seen them)."""
    _known_sessions.clear()


class SessionStore(DatabaseSessionStore):
    _read_with: tuple | None = None  # (user id guessed, user read in the same statement)

    def _get_session_from_db(self):
        self._read_with = None
        if not self.session_key:
            row = None
        else:
            guess = _known_sessions.get(self.session_key)
            if guess is None:
                row = _session_row.first(self.session_key, timezone.now())
            else:
                row, user = _session_row_with_user.first((self.session_key, timezone.now()), (guess,))
                self._read_with = (guess, user)
        if row is None:
            self._session_key = None
        return row

    def load(self):
        forget_user_read_with_session()
        data = super().load()
        self._learn_owner(data)
        if self._read_with is not None:
            guess, user = self._read_with
            self._read_with = None
            # Only when the signed session data names that very user (else it is read on its own).
            if user is not None and str(data.get(SESSION_KEY)) == str(guess):
                keep_user_read_with_session(user)
        return data

    def save(self, must_create=False):
        super().save(must_create=must_create)
        self._learn_owner(getattr(self, "_session_cache", {}))

    def _learn_owner(self, data) -> None:
        if self.session_key and data.get(BACKEND_SESSION_KEY) == SESSION_USER_BACKEND and data.get(SESSION_KEY):
            _known_sessions.put(self.session_key, data[SESSION_KEY])


def _forget_at_request_start(**kwargs) -> None:
    # A user read with one request's session is never handed to the next request.
    forget_user_read_with_session()


request_started.connect(_forget_at_request_start, dispatch_uid="prepapp.sessions.forget_user_read_with_session")
