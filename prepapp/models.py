"""The care side: organizations, their staff, patients, surgery cases, and reminders."""

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


class PushSubscription(models.Model):
    """A browser's Web Push endpoint and keys, as the service worker reported them."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="push_subscriptions")
    endpoint = models.URLField(max_length=1000, unique=True)
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=100)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_success_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"push for {self.patient}"


class Reminder(models.Model):
    """One planned message: the outbox row for one (task, rule, channel)."""

    class Channel(models.TextChoices):
        INAPP = "inapp", _("In the app")
        EMAIL = "email", _("Email")
        PUSH = "push", _("Web Push")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")
        SKIPPED = "skipped", _("Skipped")

    task = models.ForeignKey("checklists.Task", on_delete=models.CASCADE, related_name="reminders")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="reminders")
    rule = models.CharField(max_length=40)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    # The task date the rule was computed from. Part of the unique key, so moving the
    # surgery plans fresh rows for the new dates while a row already sent for a date
    # can never be sent again, even if the surgery moves back to that date.
    anchor_date = models.DateField()
    send_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["send_at", "id"]
        constraints = [
            # At most one message per (task, rule, channel) and date, whatever the workers do.
            models.UniqueConstraint(
                fields=["task", "rule", "channel", "anchor_date"], name="unique_reminder_per_task_rule_channel"
            ),
        ]
        indexes = [
            # The sweeper's query: status='pending' AND send_at <= now ORDER BY send_at.
            # Partial, so its size follows the pending rows, not the whole history.
            models.Index(fields=["send_at"], condition=Q(status="pending"), name="reminder_pending_due_idx"),
            # Reclaiming rows whose worker died: status='sending' AND claimed_at < lease.
            models.Index(fields=["claimed_at"], condition=Q(status="sending"), name="reminder_sending_claimed_idx"),
            models.Index(fields=["patient", "status"]),
        ]

    def __str__(self):
        return f"{self.get_channel_display()} reminder {self.rule} for task {self.task_id} at {self.send_at:%Y-%m-%d %H:%M}Z"


class DeliveryAttempt(models.Model):
    """What happened when one reminder was handed to its channel: the delivery log."""

    class Outcome(models.TextChoices):
        SENT = "sent", _("Sent")
        RETRY = "retry", _("Will retry")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped")

    reminder = models.ForeignKey(Reminder, on_delete=models.CASCADE, related_name="delivery_attempts")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="delivery_attempts")
    channel = models.CharField(max_length=10, choices=Reminder.Channel.choices)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    detail = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["patient", "-at"])]


class InboxMessage(models.Model):
    """A reminder as the patient reads it in the app's inbox."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="inbox")
    reminder = models.OneToOneField(Reminder, on_delete=models.SET_NULL, null=True, blank=True, related_name="inbox_message")
    task = models.ForeignKey("checklists.Task", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    title = models.CharField(max_length=200)
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The unread badge: patient_id=? AND read_at IS NULL.
            models.Index(fields=["patient"], condition=Q(read_at__isnull=True), name="inbox_unread_idx"),
        ]

    def __str__(self):
        return self.title
