"""How a request's user is found: API tokens that end, and a patient's session user in one query.

Both load the user together with what every patient request reads next (their patient
record, whose plan revision makes the checklist's validator) and what the session policy
checks on every request (the session generation), so a signed-in request does not pay a
query for each. Sessions themselves are Django's cached database sessions (settings).
"""

from __future__ import annotations

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

from prepapp.models import SessionGeneration

# What is read with a signed-in user: one query instead of three.
USER_RELATIONS = ("patient", "session_generation")
# The backend patients' sessions name (prepapp.api.auth signs them in with it).
SESSION_USER_BACKEND = "prepapp.authentication.SessionUserBackend"


def token_expires_at(token: Token):
    return token.created + timedelta(hours=settings.API_TOKEN_TTL_HOURS)


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, refusing (and deleting) tokens past their lifetime."""

    def authenticate_credentials(self, key):
        try:
            token = Token.objects.select_related(*(f"user__{name}" for name in USER_RELATIONS)).get(key=key)
        except Token.DoesNotExist:
            raise AuthenticationFailed(_("Invalid token.")) from None
        if not token.user.is_active:
            raise AuthenticationFailed(_("User inactive or deleted."))
        if timezone.now() >= token_expires_at(token):
            token.delete()
            raise AuthenticationFailed("The token has expired; sign in again.")
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
        user = get_user_model()._default_manager.select_related(*USER_RELATIONS).filter(pk=user_id).first()
        return user if user is not None and self.user_can_authenticate(user) else None


def loaded_session_generation(user) -> int | None:
    """The user's session generation if it was read with the user (None if it was not)."""
    if not SessionGeneration.user.field.remote_field.is_cached(user):
        return None
    try:
        return user.session_generation.generation
    except SessionGeneration.DoesNotExist:
        return 0  # no row: generation 0
