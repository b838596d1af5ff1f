"""The session store: Django's database sessions, with the read made on every request compiled once.

Sessions stay in the database (the record of who is signed in: a flushed or restarted Redis
signs nobody out); only the work of turning the lookup into SQL on each request is saved.
"""

from __future__ import annotations

from datetime import datetime, timezone as dt_timezone

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from .prepared import PreparedQuery

_session_row = PreparedQuery(
    lambda key, now: Session.objects.filter(session_key=key, expire_date__gt=now)[:1],
    stand_ins=("\x00no-such-session\x00", datetime(1901, 1, 1, tzinfo=dt_timezone.utc)),
)


class SessionStore(DatabaseSessionStore):
    def _get_session_from_db(self):
        row = _session_row.first(self.session_key, timezone.now()) if self.session_key else None
        if row is None:
            self._session_key = None
        return row
