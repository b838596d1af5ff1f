"""Verbs that change the care records alone (patients and their sign-in). Each runs in one transaction.

Verbs that also move checklists or reminders (booking, moving, cancelling a surgery, changing
reminder preferences) are workflows: see prepapp.workflows.
"""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
import threading
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from rest_framework.authtoken.models import Token

from prepapp.audit import audit_record
from prepapp.facts import FACT_NAMES
from prepapp.models import (
    AuditEntry,
    Organization,
    Patient,
    SessionGeneration,
    SignInLink,
    invitation_code_digest,
    new_invitation_code,
)
from prepapp.selectors import patients_like

User = get_user_model()
logger = logging.getLogger(__name__)

# One message for every code that does not sign in (unknown, used, replaced or expired), so
# that trying codes tells nothing about which ones exist.
INVITATION_REFUSED = "This code is not valid. Please check it with your care team."
SIGN_IN_LINK_REFUSED = "This sign-in link has expired or has already been used. Please ask for a new one."
# A caregiver may look after several patients from one inbox; more than this is not that.
SIGN_IN_LINKS_PER_EMAIL = 5

PATIENT_FIELDS = (
    "full_name", "contact_email", "date_of_birth", "time_zone", "language", "weight_kg", *FACT_NAMES,
)
# The patient's own choices about reminders and the app; staff may set them at enrolment too.
PREFERENCE_FIELDS = (
    "reminder_time", "quiet_hours_start", "quiet_hours_end", "push_enabled", "email_enabled",
    "inapp_enabled", "language", "time_zone", "reminder_style", "channel_policy",
)


def full_clean(obj, exclude=None):
    obj.full_clean(exclude=exclude, validate_unique=False)


class PossibleDuplicate(Exception):
    """The organization already has a patient with this name and the same email or date of birth."""

    def __init__(self, patients: list[Patient]):
        super().__init__(f"{len(patients)} possible duplicate(s)")
        self.patients = patients


@transaction.atomic
def patient_enrol(
    *, organization: Organization, full_name: str, confirm_duplicate: bool = False, **details
) -> Patient:
    """Create a patient record with a login that only the invitation code (or an emailed link) opens.

    A patient with the same name and the same email or date of birth in the organization
    (see selectors.patients_like) stops the enrolment with PossibleDuplicate, unless the
    caller confirms that this is another person (`confirm_duplicate`). The returned instance
    carries the first invitation code in `invitation_code`, for the enrolment response to
    show once; only its hash is stored.
    """
    unknown = set(details) - set(PATIENT_FIELDS) - set(PREFERENCE_FIELDS)
    if unknown:
        raise TypeError(f"unknown patient fields: {', '.join(sorted(unknown))}")
    full_name = " ".join((full_name or "").split())
    patient = Patient(organization=organization, full_name=full_name, **details)
    full_clean(patient, exclude=["user"])
    if not confirm_duplicate:
        # Enrolments in one organization take turns here, so two coordinators entering the
        # same person at the same moment cannot both miss the other's record.
        Organization.objects.select_for_update().filter(pk=organization.pk).first()
        duplicates = list(
            patients_like(
                organization=organization, full_name=full_name,
                contact_email=patient.contact_email, date_of_birth=patient.date_of_birth,
            )
        )
        if duplicates:
            raise PossibleDuplicate(duplicates)
    # The username names nobody and no code: it is only the login's handle.
    user = User(username=f"patient-{secrets.token_hex(8)}", email=patient.contact_email)
    user.set_unusable_password()
    user.save()
    patient.user = user
    patient.save()
    _issue_invitation_code(patient, now=timezone.now())
    return patient


def _issue_invitation_code(patient: Patient, *, now: datetime) -> None:
    """Give the patient a new code, replacing any earlier one; the code is left on the instance only."""
    expires_at = now + timedelta(days=settings.INVITATION_CODE_TTL_DAYS)
    while True:
        code = new_invitation_code()
        digest = invitation_code_digest(code)
        try:
            with transaction.atomic():
                Patient.objects.filter(pk=patient.pk).update(
                    invitation_code_hash=digest, invitation_expires_at=expires_at
                )
            break
        except IntegrityError:  # another patient's unspent code, one time in hundreds of billions: draw again
            continue
    patient.invitation_code_hash, patient.invitation_expires_at = digest, expires_at
    patient.invitation_code = code


@transaction.atomic
def patient_invitation_issue(
    *, patient: Patient, issued_by, path: str = "", ip: str = "", now: datetime | None = None
) -> Patient:
    """Issue a fresh invitation code for a patient (a member of staff asked); the earlier one stops working.

    The returned instance carries the code in `invitation_code`; nothing else ever shows it again.
    """
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    _refuse_archived(patient)
    _issue_invitation_code(patient, now=now or timezone.now())
    audit_record(actor=issued_by, patients=[patient], action="issue-invitation", path=path, ip=ip)
    return patient


ARCHIVED_NO_INVITATION = "This patient is archived and cannot sign in; make the record active again first."
NO_EMAIL_FOR_INVITATION = "This patient has no email address. Add one, or give them a code from this page."
INVITATION_EMAIL_ACTION = "email-invitation"


def _refuse_archived(patient: Patient) -> None:
    if patient.status == Patient.Status.ARCHIVED:
        raise ValidationError({"status": ARCHIVED_NO_INVITATION})


class TooManyInvitationEmails(Exception):
    """The patient was emailed INVITATION_EMAILS_PER_HOUR invitations within the last hour."""

    def __init__(self, retry_after: int):
        super().__init__(f"try again in {retry_after} s")
        self.retry_after = retry_after


class InvitationEmailNotSent(Exception):
    """The mail server did not take the invitation email; nothing was changed."""


@transaction.atomic
def patient_invitation_email(
    *, patient: Patient, issued_by, path: str = "", ip: str = "", now: datetime | None = None
) -> Patient:
    """Email the patient a fresh invitation code and its link; any earlier unused code stops working.

    At most INVITATION_EMAILS_PER_HOUR per patient within an hour, whoever sends them: the
    audit trail is the count, so every process and every member of staff share it, and a
    refused or failed attempt does not use it up. The email is handed to the mail server
    before the transaction commits: if the server refuses it, nothing changes and the
    earlier code still works (InvitationEmailNotSent). The code itself is only in the email.
    """
    now = now or timezone.now()
    patient = Patient.objects.select_for_update().select_related("organization").get(pk=patient.pk)
    _refuse_archived(patient)
    if not patient.contact_email:
        raise ValidationError({"contact_email": NO_EMAIL_FOR_INVITATION})
    limit = settings.INVITATION_EMAILS_PER_HOUR
    hour = timedelta(hours=1)
    recent = list(
        AuditEntry.objects.filter(patient=patient, action=INVITATION_EMAIL_ACTION, at__gt=now - hour)
        .order_by("-at")
        .values_list("at", flat=True)[:limit]
    )
    if len(recent) >= limit:
        # The oldest of the last `limit` sends leaves the hour first.
        raise TooManyInvitationEmails(max(1, math.ceil((recent[-1] + hour - now).total_seconds())))
    _issue_invitation_code(patient, now=now)
    message = _invitation_message(patient=patient, code=patient.invitation_code)
    audit_record(actor=issued_by, patients=[patient], action=INVITATION_EMAIL_ACTION, path=path, ip=ip)
    try:
        message.send()
    except OSError as exc:  # smtplib's errors are OSErrors too
        # Never the message itself: it holds the code.
        logger.warning("The invitation email for patient %s could not be sent (%s).", patient.pk,
                       exc.__class__.__name__)
        raise InvitationEmailNotSent() from exc
    return patient


def _invitation_message(*, patient: Patient, code: str) -> EmailMessage:
    with translation.override(patient.language):
        subject = _("Your invitation to get ready for your surgery")
        body = render_to_string(
            "prepapp/email/invitation.txt",
            {
                "patient": patient,
                "code": code,
                # After "#": browsers never send that part, so no server or proxy log holds the code.
                "url": f"{settings.SITE_URL}/join/#{code}",
                "days": settings.INVITATION_CODE_TTL_DAYS,
            },
        )
    return EmailMessage(
        subject=subject, body=body, to=[patient.contact_email], headers={"Auto-Submitted": "auto-generated"}
    )


@transaction.atomic
def patient_accept_invitation(*, code: str, now: datetime | None = None) -> Patient:
    """Sign in with an invitation code: it works once, before it expires, and is then spent."""
    now = now or timezone.now()
    patient = (
        Patient.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(invitation_code_hash=invitation_code_digest(code))
        .first()
    )
    if (
        patient is None
        or patient.user is None
        or not patient.user.is_active
        or patient.invitation_expires_at is None
        or patient.invitation_expires_at <= now
    ):
        raise ValidationError({"code": INVITATION_REFUSED})
    patient.invitation_code_hash = None
    patient.invitation_expires_at = None
    if patient.invitation_accepted_at is None:
        patient.invitation_accepted_at = now
    patient.save(update_fields=["invitation_code_hash", "invitation_expires_at", "invitation_accepted_at"])
    return patient


def _sign_in_token_digest(token: str) -> str:
    # The token is 256 random bits: a plain hash is as good as a keyed one here.
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def sign_in_link_send(*, email: str, now: datetime | None = None) -> None:
    """Email a single-use sign-in link to each patient with this address; nothing happens for an unknown one.

    The caller answers the same either way. The email leaves after the transaction commits,
    from a thread of its own, so the answer does not take longer for a known address either.

    At most SIGN_IN_LINK_EMAILS_PER_HOUR links go to one patient within an hour, whoever asks
    (the links themselves are the count). Past that nothing new is sent and the newest link
    already sent is kept working for another SIGN_IN_LINK_TTL_MINUTES (never past an hour
    after it was emailed): a stranger who asks for the patient's links uses up only new
    emails, never the patient's way in, since a link sent earlier is in their inbox.
    """
    now = now or timezone.now()
    hour = timedelta(hours=1)
    lifetime = timedelta(minutes=settings.SIGN_IN_LINK_TTL_MINUTES)
    # Locked, so that requests for the same patient at the same moment count one after the other.
    patients = Patient.objects.select_for_update().filter(
        contact_email__iexact=email.strip(), user__isnull=False, user__is_active=True
    ).order_by("pk")[:SIGN_IN_LINKS_PER_EMAIL]
    for patient in patients:
        # Links are kept for the hour they count in, then removed once expired.
        SignInLink.objects.filter(patient=patient, expires_at__lt=now, created_at__lte=now - hour).delete()
        sent = SignInLink.objects.filter(patient=patient, created_at__gt=now - hour).order_by("-created_at")
        if sent.count() >= settings.SIGN_IN_LINK_EMAILS_PER_HOUR:
            newest = sent.filter(used_at__isnull=True).first()
            if newest is not None:
                newest.expires_at = max(newest.expires_at, min(now + lifetime, newest.created_at + hour))
                newest.save(update_fields=["expires_at"])
            continue
        token = secrets.token_urlsafe(32)
        link = SignInLink.objects.create(
            patient=patient,
            token_hash=_sign_in_token_digest(token),
            created_at=now,
            expires_at=now + lifetime,
        )
        # The token travels after "#": browsers never send that part, so no server or proxy log holds it.
        message = _sign_in_link_message(patient=patient, url=f"{settings.SITE_URL}/signin/#{token}")
        transaction.on_commit(lambda message=message, link_id=link.pk: send_in_background(message, link_id))


def _sign_in_link_message(*, patient: Patient, url: str) -> EmailMessage:
    with translation.override(patient.language):
        subject = _("Your sign-in link")
        body = render_to_string(
            "prepapp/email/sign_in_link.txt",
            {"patient": patient, "url": url, "minutes": settings.SIGN_IN_LINK_TTL_MINUTES},
        )
    return EmailMessage(
        subject=subject, body=body, to=[patient.contact_email], headers={"Auto-Submitted": "auto-generated"}
    )


def send_in_background(message: EmailMessage, link_id) -> None:
    def send():
        try:
            message.send()
        except Exception as exc:  # a lost email only means asking again: say so, and no more
            # Never the message itself: it holds the link.
            logger.warning("The email with sign-in link %s could not be sent (%s).", link_id, exc.__class__.__name__)
        else:
            logger.info("Sent the email with sign-in link %s.", link_id)

    threading.Thread(target=send, name=f"sign-in-link-{link_id}", daemon=True).start()


@transaction.atomic
def sign_in_link_redeem(*, token: str, now: datetime | None = None) -> Patient:
    """Exchange an emailed link's token for its patient, once, before it expires."""
    now = now or timezone.now()
    link = (
        SignInLink.objects.select_for_update(of=("self",))
        .select_related("patient__user")
        .filter(token_hash=_sign_in_token_digest(token or ""))
        .first()
    )
    if link is None or link.used_at is not None or link.expires_at <= now or not link.patient.user.is_active:
        raise ValidationError({"token": SIGN_IN_LINK_REFUSED})
    link.used_at = now
    link.save(update_fields=["used_at"])
    patient = link.patient
    if patient.invitation_accepted_at is None:
        patient.invitation_accepted_at = now
        patient.save(update_fields=["invitation_accepted_at"])
    return patient


def revoke_user_tokens(*, user) -> None:
    """Revoke every API token of the user (inside the caller's transaction)."""
    Token.objects.filter(user=user).delete()


@transaction.atomic
def api_token_issue(*, user) -> Token:
    """A new API token for the user; the one they had before stops working."""
    revoke_user_tokens(user=user)
    return Token.objects.create(user=user)


def api_token_revoke(*, token: Token) -> None:
    """Sign one API token out (the one a request was made with)."""
    Token.objects.filter(pk=token.pk).delete()


@transaction.atomic
def user_sign_out_everywhere(*, user, now: datetime | None = None) -> None:
    """End every session of the user, on every device, and revoke the user's API tokens.

    Sessions are not looked up one by one: the user's session generation moves on, and
    prepapp.session_policy ends any session of an earlier generation at its next request.
    """
    SessionGeneration.objects.get_or_create(user=user)
    SessionGeneration.objects.filter(user=user).update(
        generation=F("generation") + 1, signed_out_everywhere_at=now or timezone.now()
    )
    revoke_user_tokens(user=user)
