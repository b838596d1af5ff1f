"""Verbs for caregivers: invite, sign in with the emailed link, change what they may do, revoke.

Each runs in one transaction and writes its audit entry inside it. A caregiver's account is
made for following patients (its username says so) and is never the patient's login.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from prepapp.audit import audit_record
from prepapp.models import AuditEntry, CaregiverLink, CaregiverSettings, CaregiverSignInLink, Patient
from prepapp.services import SIGN_IN_LINK_REFUSED, SIGN_IN_LINKS_PER_EMAIL, send_in_background, user_sign_out_everywhere

User = get_user_model()
logger = logging.getLogger(__name__)

CAREGIVER_USERNAME_PREFIX = "caregiver-"
ALREADY_FOLLOWING = gettext_lazy("This person already follows this patient.")
OWN_ADDRESS = gettext_lazy("This is the patient's own email address: a caregiver needs an address of their own.")
CONSENT_NEEDED = gettext_lazy("Note how the patient agreed to this caregiver (for example “asked at the visit”).")
ARCHIVED_PATIENT = gettext_lazy("This patient's record is archived: no caregiver can be invited.")
INVITATION_NOT_SENT = "The mail server did not take the invitation; nobody was invited."
# What a caregiver's settings may change; everything else is fixed at the invitation.
CHANGEABLE = ("access", "gets_reminders", "sees_health_facts", "relationship", "name", "language")
# What the caregiver chooses for themselves, for every message the service sends them.
OWN_SETTINGS = ("language", "time_zone", "reminder_time", "quiet_hours_start", "quiet_hours_end",
                "email_enabled", "push_enabled", "inapp_enabled")
ERASED_CAREGIVER_PREFIX = "erased-caregiver-"


class CaregiverInvitationNotSent(Exception):
    """The mail server did not take the invitation email; nothing was written."""


def _token_digest(token: str) -> str:
    # The same digest as a patient's sign-in link: the token is 256 random bits.
    return hashlib.sha256(token.encode()).hexdigest()


def _caregiver_account(email: str):
    """The caregiver account with this address (one person, several patients), or a new one."""
    account = (
        User.objects.filter(username__startswith=CAREGIVER_USERNAME_PREFIX, email__iexact=email, is_active=True)
        .order_by("pk")
        .first()
    )
    if account is None:
        account = User(username=f"{CAREGIVER_USERNAME_PREFIX}{secrets.token_hex(8)}", email=email)
        account.set_unusable_password()
        account.save()
    return account


def _settings_for(account, *, language: str, time_zone: str) -> CaregiverSettings:
    """The account's own settings; a new caregiver starts in the invitation's language and the patient's zone."""
    found, _created = CaregiverSettings.objects.get_or_create(
        user=account, defaults={"language": language, "time_zone": time_zone}
    )
    return found


@transaction.atomic
def caregiver_invite(
    *, patient: Patient, invited_by, name: str, relationship: str, email: str, language: str = "en",
    access: str = CaregiverLink.Access.SEE, gets_reminders: bool = True, sees_health_facts: bool = False,
    consent_note: str = "", path: str = "", ip: str = "", now: datetime | None = None,
) -> CaregiverLink:
    """Invite a caregiver by email: a link of their own, and a single-use sign-in link in the email.

    The patient invites from the app; anyone else (a coordinator) only with the patient's
    consent noted in `consent_note`. The email is handed to the mail server before the
    transaction commits: if it refuses, nobody is invited (CaregiverInvitationNotSent).
    """
    now = now or timezone.now()
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    email = (email or "").strip()
    by_patient = invited_by.pk == patient.user_id
    if patient.status == Patient.Status.ARCHIVED:
        raise ValidationError({"patient": ARCHIVED_PATIENT})
    if not by_patient and not consent_note.strip():
        raise ValidationError({"consent_note": CONSENT_NEEDED})
    if patient.contact_email and email.lower() == patient.contact_email.lower():
        raise ValidationError({"email": OWN_ADDRESS})
    account = _caregiver_account(email)
    if CaregiverLink.objects.filter(patient=patient, caregiver=account, revoked_at__isnull=True).exists():
        raise ValidationError({"email": ALREADY_FOLLOWING})
    link = CaregiverLink(
        patient=patient, caregiver=account, name=" ".join(name.split()), relationship=" ".join(relationship.split()),
        email=email, language=language, access=access, gets_reminders=gets_reminders,
        sees_health_facts=sees_health_facts, invited_by=invited_by, invited_at=now,
        consent_note="" if by_patient else consent_note.strip(),
    )
    link.full_clean(exclude=["patient", "caregiver", "invited_by"], validate_constraints=False)
    link.save()
    _settings_for(account, language=language, time_zone=patient.time_zone)
    token = secrets.token_urlsafe(32)
    CaregiverSignInLink.objects.create(
        link=link, token_hash=_token_digest(token), created_at=now,
        expires_at=now + timedelta(days=settings.INVITATION_CODE_TTL_DAYS),
    )
    audit_record(actor=invited_by, patients=[patient], action="caregiver-invite", path=path, ip=ip)
    # The token travels after "#", as in a patient's link: no server or proxy log holds it.
    message = _invitation_message(link=link, url=f"{settings.SITE_URL}/signin/#{token}")
    try:
        message.send()
    except OSError as exc:  # smtplib's errors are OSErrors too
        logger.warning("The caregiver invitation %s could not be sent (%s).", link.pk, exc.__class__.__name__)
        raise CaregiverInvitationNotSent(INVITATION_NOT_SENT) from exc
    return link


def _invitation_message(*, link: CaregiverLink, url: str) -> EmailMessage:
    with translation.override(link.language):
        subject = _("You are invited to follow %(patient)s's surgery preparation") % {
            "patient": link.patient.full_name
        }
        body = render_to_string(
            "prepapp/email/caregiver_invitation.txt",
            {"link": link, "url": url, "days": settings.INVITATION_CODE_TTL_DAYS},
        )
    return EmailMessage(subject=subject, body=body, to=[link.email], headers={"Auto-Submitted": "auto-generated"})


@transaction.atomic
def caregiver_sign_in_link_redeem(*, token: str, now: datetime | None = None) -> CaregiverLink:
    """Exchange a caregiver's emailed link for their link to the patient, once, before it expires."""
    now = now or timezone.now()
    sign_in = (
        CaregiverSignInLink.objects.select_for_update(of=("self",))
        .select_related("link__caregiver", "link__patient")
        .filter(token_hash=_token_digest(token or ""))
        .first()
    )
    if (
        sign_in is None or sign_in.used_at is not None or sign_in.expires_at <= now
        or sign_in.link.revoked_at is not None or not sign_in.link.caregiver.is_active
        or sign_in.link.patient.status == Patient.Status.ARCHIVED
    ):
        raise ValidationError({"token": SIGN_IN_LINK_REFUSED})
    sign_in.used_at = now
    sign_in.save(update_fields=["used_at"])
    link = sign_in.link
    if link.accepted_at is None:
        link.accepted_at = now
        link.save(update_fields=["accepted_at"])
    return link


@transaction.atomic
def caregiver_update(*, link: CaregiverLink, changed_by, path: str = "", ip: str = "", **changes) -> CaregiverLink:
    """Change what a caregiver may do (see or tick off, reminders, health facts) or how they are named."""
    unknown = set(changes) - set(CHANGEABLE)
    if unknown:
        raise TypeError(f"unknown caregiver fields: {', '.join(sorted(unknown))}")
    link = CaregiverLink.objects.select_for_update().select_related("patient").get(pk=link.pk)
    if link.revoked_at is not None:
        raise ValidationError({"caregiver": _("This caregiver's access has ended.")})
    for field, value in changes.items():
        setattr(link, field, value)
    link.full_clean(exclude=["patient", "caregiver", "invited_by"], validate_constraints=False)
    link.save(update_fields=list(changes) or None)
    audit_record(actor=changed_by, patients=[link.patient], action="caregiver-change", path=path, ip=ip)
    return link


@transaction.atomic
def caregiver_revoke(
    *, link: CaregiverLink, revoked_by, path: str = "", ip: str = "", now: datetime | None = None
) -> CaregiverLink:
    """End a caregiver's access to the patient at once: their sessions end and unused links stop working.

    Every session of the caregiver's account ends (as "sign out everywhere" does): a session
    is not tied to one patient, and access ending the moment the patient says so matters
    more than the caregiver signing in again for another patient they follow.
    """
    now = now or timezone.now()
    link = CaregiverLink.objects.select_for_update().select_related("patient", "caregiver").get(pk=link.pk)
    if link.revoked_at is not None:
        return link
    link.revoked_at = now
    link.save(update_fields=["revoked_at"])
    CaregiverSignInLink.objects.filter(link=link, used_at__isnull=True).delete()
    user_sign_out_everywhere(user=link.caregiver, now=now)
    audit_record(actor=revoked_by, patients=[link.patient], action="caregiver-revoke", path=path, ip=ip)
    return link


def caregiver_read_record(*, link: CaregiverLink, action: str = "caregiver-read", request=None) -> None:
    """Note that a caregiver read (or ticked) the patient's record: the patient's access list names them."""
    audit_record(actor=link.caregiver, patients=[link.patient], action=action, request=request)


# --- The caregiver's own side: their settings, a new sign-in link -------------------------


@transaction.atomic
def caregiver_settings_update(*, user, **changes) -> CaregiverSettings:
    """The caregiver changes how they hear from us: channels, quiet hours, reminder time, language, time zone.

    Raises ValidationError naming the field for a wrong value; nothing is saved then.
    """
    unknown = set(changes) - set(OWN_SETTINGS)
    if unknown:
        raise TypeError(f"unknown caregiver settings: {', '.join(sorted(unknown))}")
    first = CaregiverLink.objects.filter(caregiver=user).select_related("patient").order_by("invited_at", "id").first()
    own, _created = CaregiverSettings.objects.select_for_update().get_or_create(
        user=user, defaults={"language": first.language if first else "en",
                             "time_zone": first.patient.time_zone if first else "UTC"},
    )
    for field, value in changes.items():
        setattr(own, field, value)
    own.full_clean(exclude=["user"])
    own.save()
    return own


@transaction.atomic
def caregiver_sign_in_link_send(*, email: str, now: datetime | None = None) -> int:
    """Email a caregiver with this address a new single-use sign-in link; returns how many were sent.

    The same limits as a patient's: at most SIGN_IN_LINK_EMAILS_PER_HOUR links to one
    caregiver account within an hour, and past that the newest unused one keeps working a
    while longer, so a stranger asking cannot keep the caregiver out. Only an account that
    follows someone now gets one; the caller answers the same whatever happens here.
    """
    now = now or timezone.now()
    hour = timedelta(hours=1)
    lifetime = timedelta(minutes=settings.SIGN_IN_LINK_TTL_MINUTES)
    accounts = User.objects.select_for_update().filter(
        username__startswith=CAREGIVER_USERNAME_PREFIX, email__iexact=(email or "").strip(), is_active=True,
    ).order_by("pk")[:SIGN_IN_LINKS_PER_EMAIL]
    sent_now = 0
    for account in accounts:
        link = (
            CaregiverLink.objects.filter(caregiver=account, revoked_at__isnull=True)
            .exclude(patient__status=Patient.Status.ARCHIVED).select_related("patient")
            .order_by("invited_at", "id").first()
        )
        if link is None:
            continue
        mine = CaregiverSignInLink.objects.filter(link__caregiver=account)
        mine.filter(expires_at__lt=now, created_at__lte=now - hour).delete()
        recent = mine.filter(created_at__gt=now - hour).order_by("-created_at")
        if recent.count() >= settings.SIGN_IN_LINK_EMAILS_PER_HOUR:
            newest = recent.filter(used_at__isnull=True).first()
            if newest is not None:
                newest.expires_at = max(newest.expires_at, min(now + lifetime, newest.created_at + hour))
                newest.save(update_fields=["expires_at"])
            continue
        token = secrets.token_urlsafe(32)
        sign_in = CaregiverSignInLink.objects.create(
            link=link, token_hash=_token_digest(token), created_at=now, expires_at=now + lifetime
        )
        language = getattr(getattr(account, "caregiver_settings", None), "language", link.language)
        message = _sign_in_link_message(account=account, language=language, url=f"{settings.SITE_URL}/signin/#{token}")
        transaction.on_commit(lambda message=message, pk=sign_in.pk: send_in_background(message, f"c{pk}"))
        sent_now += 1
    return sent_now


def _sign_in_link_message(*, account, language: str, url: str) -> EmailMessage:
    with translation.override(language):
        subject = _("Your sign-in link")
        body = render_to_string("prepapp/email/caregiver_sign_in_link.txt",
                                {"url": url, "minutes": settings.SIGN_IN_LINK_TTL_MINUTES})
    return EmailMessage(subject=subject, body=body, to=[account.email], headers={"Auto-Submitted": "auto-generated"})


def caregiver_account_release(*, account) -> str:
    """After a patient's erasure: a caregiver account that follows no one any more loses its personal data.

    Called inside the erasure's transaction, after the patient's links went with the record.
    An account still linked to another patient (live, or revoked: that patient's record of who
    followed them) is left as it is. Otherwise it is deleted, unless the audit trail names it
    as the actor of an entry (every read a caregiver makes is audited): entries are never
    removed, so the account stays, emptied, unusable and inactive, under a pseudonym, as an
    erased patient's login does. Returns "kept", "deleted" or "emptied".
    """
    if CaregiverLink.objects.filter(caregiver=account).exists():
        return "kept"
    user_sign_out_everywhere(user=account)
    if not AuditEntry.objects.filter(actor_id=account.pk).exists():
        account.delete()
        return "deleted"
    CaregiverSettings.objects.filter(user=account).delete()
    User.objects.filter(pk=account.pk).update(
        username=f"{ERASED_CAREGIVER_PREFIX}{account.pk}", email="", first_name="", last_name="",
        password=make_password(None), is_active=False, last_login=None,
    )
    return "emptied"
