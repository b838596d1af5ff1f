"""Sessions that end: after a while unused (staff sooner than patients), and everywhere at once.

A signed-in session carries three notes, written at sign-in (prepapp.models.stamp_new_session):
its generation, whose it is (patient or staff) and when it was last used. On every request
the middleware below ends the session when it has sat unused longer than its kind allows, or
when its user has signed out everywhere since it began (a newer generation); otherwise it
moves the idle window on. Sessions are stored server-side, so the expiry set here also ends
them there, whatever becomes of the cookie.
"""

from __future__ import annotations

from django.contrib.auth import BACKEND_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from prepapp.authentication import SESSION_USER_BACKEND, loaded_session_generation, note_request_began
from prepapp.models import (
    SESSION_GENERATION_KEY,
    SESSION_KIND_KEY,
    SESSION_LAST_ACTIVITY_KEY,
    SessionGeneration,
    session_idle_seconds,
    session_kind_of,
)

# The window moves on at most this often, so that a burst of requests does not rewrite the
# session on each one; an idle limit is thus kept to within a minute.
REFRESH_SECONDS = 60


class SessionPolicyMiddleware:
    """Ends idle and signed-out-everywhere sessions before the view sees them; keeps the others rolling."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Before anything here reads the user (the first to): what is read from now on is the
        # request's own (prepapp.authentication.read_in_this_request).
        note_request_began(request)
        session = request.session
        user_id = session.get(SESSION_KEY)
        if user_id is not None:
            now = int(timezone.now().timestamp())
            if self._still_valid(session, user_id, now, request):
                self._keep_alive(session, user_id, now)
            else:
                end_session(request)
        return self.get_response(request)

    @staticmethod
    def _current_generation(request, user_id) -> int:
        # A patient's session restores its user with the generation in the same query
        # (prepapp.authentication.SessionUserBackend); other sessions ask for it.
        if request.session.get(BACKEND_SESSION_KEY) == SESSION_USER_BACKEND:
            if not request.user.is_authenticated:
                return -1  # the user could not be restored (and the session was ended): not valid
            generation = loaded_session_generation(request.user)
            if generation is not None:
                return generation
        return SessionGeneration.current(user_id)

    @classmethod
    def _still_valid(cls, session, user_id, now: int, request=None) -> bool:
        kind = session.get(SESSION_KIND_KEY)
        if kind is None:
            # A session from before this policy: its kind is looked up once and kept.
            kind = session[SESSION_KIND_KEY] = session_kind_of(user_id)
        last_activity = session.get(SESSION_LAST_ACTIVITY_KEY)
        if last_activity is not None and now - last_activity > session_idle_seconds(kind):
            return False
        # A session without a generation began before any "sign out everywhere": generation 0.
        current = cls._current_generation(request, user_id) if request is not None else SessionGeneration.current(user_id)
        return session.get(SESSION_GENERATION_KEY, 0) == current

    @staticmethod
    def _keep_alive(session, user_id, now: int) -> None:
        session.setdefault(SESSION_GENERATION_KEY, 0)
        last_activity = session.get(SESSION_LAST_ACTIVITY_KEY)
        if last_activity is None or now - last_activity >= REFRESH_SECONDS:
            session[SESSION_LAST_ACTIVITY_KEY] = now
            # Stored with the session, so the server drops it too once the window has passed.
            session.set_expiry(session_idle_seconds(session[SESSION_KIND_KEY]))


def end_session(request) -> None:
    """Forget the session and treat the rest of this request as anonymous."""
    request.session.flush()
    request.user = AnonymousUser()

    async def anonymous():
        return AnonymousUser()

    request.auser = anonymous
