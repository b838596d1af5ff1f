"""Caregivers: a family member who follows a patient's preparation with an account of their own.

Kept apart from prepapp.models (which imports this module, so Django finds the models), and
naming the patient by its app label only, so the two modules do not import each other.
"""

import zoneinfo
from datetime import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class CaregiverLink(models.Model):
    """One caregiver following one patient, with what the patient lets them do.

    The caregiver's account is their own (never the patient's login); one account may follow
    several patients, one link each. A revoked link stays, as the record of who followed the
    patient and until when; a new invitation makes a new link.
    """

    class Access(models.TextChoices):
        SEE = "see", _("Can see")
        SEE_AND_TICK = "see_and_tick", _("Can see and tick off steps")

    class Language(models.TextChoices):
        ENGLISH = "en", "English"
        SPANISH = "es", "Español"

    patient = models.ForeignKey("prepapp.Patient", on_delete=models.CASCADE, related_name="caregiver_links")
    caregiver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="caregiver_links")
    # What the patient calls them: "Ana", "daughter". Shown beside every step they tick off.
    name = models.CharField(max_length=100)
    relationship = models.CharField(max_length=60)
    email = models.EmailField()
    access = models.CharField(max_length=20, choices=Access.choices, default=Access.SEE)
    gets_reminders = models.BooleanField(default=True)
    sees_health_facts = models.BooleanField(default=False)
    # The caregiver's own language, for their emails (not the patient's).
    language = models.CharField(max_length=5, choices=Language.choices, default=Language.ENGLISH)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    invited_at = models.DateTimeField(default=timezone.now)
    # A coordinator invites only with the patient's consent, and notes how it was given.
    consent_note = models.CharField(max_length=300, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["patient_id", "invited_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "caregiver"], condition=Q(revoked_at__isnull=True),
                name="one_live_caregiver_link_per_pair",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.relationship}) follows {self.patient_id}"

    @property
    def can_tick(self) -> bool:
        return self.access == self.Access.SEE_AND_TICK

    @property
    def label(self) -> str:
        """How the caregiver is named to others: "Ana (daughter)"."""
        return f"{self.name} ({self.relationship})"


class CaregiverSignInLink(models.Model):
    """A single-use sign-in link emailed to a caregiver. Only its token's SHA-256 is kept."""

    link = models.ForeignKey(CaregiverLink, on_delete=models.CASCADE, related_name="sign_in_links")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"caregiver sign-in link {self.pk} until {self.expires_at:%Y-%m-%d %H:%M}"


def _validate_zone(value: str) -> None:
    # The same rule as a patient's time zone (prepapp.models imports this module, not the reverse).
    if not value or value not in zoneinfo.available_timezones():
        raise ValidationError(_("“%(value)s” is not a known time zone."), params={"value": value}, code="invalid")


class CaregiverSettings(models.Model):
    """How the service reaches a caregiver: their own channels, quiet hours, reminder time and language.

    One per caregiver account, whichever patients it follows: every message to the caregiver
    (an overdue critical step, the evening before surgery, the day of it, the rules said
    again) uses these, never the patient's choices. The patient decides only whether the
    caregiver gets reminders at all (CaregiverLink.gets_reminders). The names of the fields
    are a patient's, so the reminder engine's timing and channel rules read either.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="caregiver_settings")
    language = models.CharField(max_length=5, choices=CaregiverLink.Language.choices,
                                default=CaregiverLink.Language.ENGLISH)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[_validate_zone])
    reminder_time = models.TimeField(default=time(9, 0))
    quiet_hours_start = models.TimeField(default=time(21, 0))
    quiet_hours_end = models.TimeField(default=time(8, 0))
    email_enabled = models.BooleanField(default=True)
    # Off until the caregiver's own phone subscribes (their settings screen asks the browser).
    push_enabled = models.BooleanField(default=False)
    inapp_enabled = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    # A caregiver's push and email go side by side: no fallback from one to the other.
    channel_policy = "both"
    # Whether the patient is still followed is asked of the patient; the caregiver is reachable.
    is_followed = True

    class Meta:
        verbose_name_plural = "caregiver settings"

    def __str__(self):
        return f"reminder settings of caregiver account {self.user_id}"

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    @property
    def contact_email(self) -> str:
        return self.user.email
