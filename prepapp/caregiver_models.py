"""Caregivers: a family member who follows a patient's preparation with an account of their own.

Kept apart from prepapp.models (which imports this module, so Django finds the models), and
naming the patient by its app label only, so the two modules do not import each other.
"""

from django.conf import settings
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
