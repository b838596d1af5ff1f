"""How a request's user is found: API tokens that end, and a patient's session user in one query.

Both load the user together with what every patient request reads next (their patient
record, whose plan revision makes the checklist's validator) and what the session policy
checks on every request (the session generation), so a signed-in request does not pay a
query for each. Sessions themselves are Django's cached database sessions (settings).

Both also note when they read the patient record (`read_in_this_request`): a value read
from the database after the request began, by the request itself, is as current as one read
again now, so the checklist's validator takes the plan revision from it instead of asking
again (prepapp.selectors.plan_revision_of). Any other copy (a user handed in by a test client,
kept from an earlier request, or unpickled) carries no such note and is read again.
"""

from __future__ import annotations

import time
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed

from prepapp.models import Patient, SessionGeneration

# What is read with a signed-in user: one query instead of three.
USER_RELATIONS = ("patient", "session_generation")

# The clock of the notes below, and this process as they name it. An object, compared by
# identity: a note copied out of the process (pickled and back) names another object and never
# counts, and a forked worker shares both the object and the (system-wide) monotonic clock.
_THIS_PROCESS = object()
# The attribute names (request and patient record) of the two notes.
BEGAN_ATTRIBUTE = "reads_fresh_from"
READ_ATTRIBUTE = "read_from_database_at"


def note_request_began(request) -> None:
    """Note that the request begins now: a read made from here on is this request's own."""
    setattr(request, BEGAN_ATTRIBUTE, (_THIS_PROCESS, time.monotonic_ns()))


def _note_read(user, asked_at: int) -> None:
    """Note on the user's patient record (if any) when the query that read it was sent.

    The time is taken before the query goes out, so a note later than a request's beginning
    means the database answered after that request began.
    """
    try:
        patient = user.patient
    except Patient.DoesNotExist:
        return
    setattr(patient, READ_ATTRIBUTE, (_THIS_PROCESS, asked_at))


def read_in_this_request(patient, request) -> bool:
    """Whether this patient record was read from the database after `request` began (in this process).

    False whenever in doubt: a request not noted as begun, a record without a note, a note from
    another process or from before the request.
    """
    began = getattr(request, BEGAN_ATTRIBUTE, None)
    read = getattr(patient, READ_ATTRIBUTE, None)
    if began is None or read is None or began[0] is not _THIS_PROCESS or read[0] is not _THIS_PROCESS:
        return False
    return read[1] >= began[1]


# The backend patients' sessions name (prepapp.api.auth signs them in with it).
SESSION_USER_BACKEND = "prepapp.authentication.SessionUserBackend"


def token_expires_at(token: Token):
    return token.created + timedelta(hours=settings.API_TOKEN_TTL_HOURS)


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, refusing (and deleting) tokens past their lifetime."""

    def authenticate_credentials(self, key):
        asked_at = time.monotonic_ns()
        try:
            token = Token.objects.select_related(*(f"user__{name}" for name in USER_RELATIONS)).get(key=key)
        except Token.DoesNotExist:
            raise AuthenticationFailed(_("Invalid token.")) from None
        if not token.user.is_active:
            raise AuthenticationFailed(_("User inactive or deleted."))
        if timezone.now() >= token_expires_at(token):
            token.delete()
            raise AuthenticationFailed("The token has expired; sign in again.")
        _note_read(token.user, asked_at)
        return token.user, token


class SessionUserBackend(ModelBackend):
    """Restores the user of a patient's session with their patient record and session generation.

    It never checks a password (`authenticate` always declines): patients sign in with an
    invitation code or an emailed link, and `login()` names this backend in their session, so
    that each later request finds its user in one query. Everything else is ModelBackend's.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        return None

    def get_user(self, user_id):
        try:
            user_id = get_user_model()._meta.pk.to_python(user_id)
        except ValidationError:
            return None
        asked_at = time.monotonic_ns()
        # At most one row by its key: sliced rather than .first(), whose ORDER BY costs Django
        # about a third of this query's compiling (each ordering expression is hashed through
        # inspect.signature) and changes nothing for a single row.
        user = next(iter(get_user_model()._default_manager.select_related(*USER_RELATIONS).filter(pk=user_id)[:1]), None)
        if user is None or not self.user_can_authenticate(user):
            return None
        _note_read(user, asked_at)
        return user


def loaded_session_generation(user) -> int | None:
    """The user's session generation if it was read with the user (None if it was not)."""
    if not SessionGeneration.user.field.remote_field.is_cached(user):
        return None
    try:
        return user.session_generation.generation
    except SessionGeneration.DoesNotExist:
        return 0  # no row: generation 0
