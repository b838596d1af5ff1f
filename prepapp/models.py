"""The care records: organizations, their staff, patients, surgery cases, and the audit trail.

The bottom layer: nothing here knows about checklists or reminders, which build on it.
"""

import secrets
import zoneinfo
from datetime import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def validate_time_zone(value: str) -> None:
    """Refuse anything that is not an IANA time zone name."""
    if not value or value not in zoneinfo.available_timezones():
        raise ValidationError(_("“%(value)s” is not a known time zone."), params={"value": value}, code="invalid")


def new_invitation_code() -> str:
    # Eight characters from an alphabet without look-alikes (no 0/O, 1/I/L): easy to read aloud.
    alphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(8))


class Organization(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.name


class StaffMembership(models.Model):
    class Role(models.TextChoices):
        COORDINATOR = "coordinator", _("Care coordinator")
        CLINICAL_LEAD = "clinical_lead", _("Clinical lead")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.COORDINATOR)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "organization"], name="unique_membership")]

    def __str__(self):
        return f"{self.user} ({self.get_role_display()}, {self.organization})"


class Patient(models.Model):
    class Language(models.TextChoices):
        ENGLISH = "en", "English"
        SPANISH = "es", "Español"

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="patients")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="patient", null=True, blank=True
    )
    full_name = models.CharField(max_length=200)
    contact_email = models.EmailField(blank=True)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    language = models.CharField(max_length=5, choices=Language.choices, default=Language.ENGLISH)
    weight_kg = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)

    # The facts the protocol's "applies if" conditions read.
    smoker = models.BooleanField(default=False)
    diabetic = models.BooleanField(default=False)
    on_blood_thinners = models.BooleanField(default=False)
    takes_nsaids = models.BooleanField(default=False)

    # Reminder preferences, all in the patient's own wall-clock time.
    reminder_time = models.TimeField(default=time(9, 0))
    quiet_hours_start = models.TimeField(default=time(21, 0))
    quiet_hours_end = models.TimeField(default=time(8, 0))
    push_enabled = models.BooleanField(default=True)
    email_enabled = models.BooleanField(default=True)
    inapp_enabled = models.BooleanField(default=True)

    invitation_code = models.CharField(max_length=16, unique=True, default=new_invitation_code)
    invitation_accepted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["full_name", "id"]

    def __str__(self):
        return self.full_name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def local_today(self, now=None):
        """Today's calendar date where the patient lives."""
        return (now or timezone.now()).astimezone(self.zone).date()

    @property
    def facts(self) -> dict:
        return {
            "smoker": self.smoker,
            "diabetic": self.diabetic,
            "on_blood_thinners": self.on_blood_thinners,
            "takes_nsaids": self.takes_nsaids,
        }


class SurgeryCase(models.Model):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        CANCELLED = "cancelled", _("Cancelled")
        DONE = "done", _("Done")

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="cases")
    procedure = models.CharField(max_length=200)
    surgeon = models.CharField(max_length=200, blank=True)
    surgery_date = models.DateField(help_text="Calendar date in the patient's time zone.")
    surgery_time = models.TimeField(null=True, blank=True, help_text="Wall-clock time in the patient's time zone.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.SCHEDULED)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-surgery_date", "-id"]
        indexes = [models.Index(fields=["patient", "status"])]
        constraints = [
            # One scheduled surgery per patient, even when two coordinators book at once.
            models.UniqueConstraint(
                fields=["patient"], condition=Q(status="scheduled"), name="one_scheduled_case_per_patient"
            ),
        ]

    def __str__(self):
        return f"{self.procedure} for {self.patient} on {self.surgery_date}"

    def days_to_surgery(self, now=None) -> int:
        return (self.surgery_date - self.patient.local_today(now)).days


class AuditEntry(models.Model):
    """A member of staff read or changed a patient's record."""

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="audit_entries")
    action = models.CharField(max_length=40)
    path = models.CharField(max_length=300, blank=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at"]
        verbose_name_plural = "audit entries"

    def __str__(self):
        return f"{self.actor} {self.action} {self.patient} at {self.at:%Y-%m-%d %H:%M}"
