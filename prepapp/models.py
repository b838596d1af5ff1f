"""The care records: organizations, their staff, patients, surgery cases, and the audit trail.

The bottom layer: nothing here knows about checklists or reminders, which build on it.

A little over 400 lines: the sign-in sessions' stamps read the patients and caregivers they
belong to, and the login's end follows the audit trail, so these stay with the records they
read; the caregivers' and the calendar feed's models, which need nothing of them, live beside it.
"""

import secrets
import zoneinfo
from datetime import date, time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.signals import user_logged_in
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from prepapp.calendar_feed_models import CalendarFeed  # noqa: F401 (Django finds it here)
# Django finds them here.
from prepapp.caregiver_models import CaregiverLink, CaregiverSettings, CaregiverSignInLink  # noqa: F401
from prepapp.facts import FACTS
from prepapp.procedures import LEVEL_MAX_LENGTH, Approach, normalise_level, validate_level


def validate_time_zone(value: str) -> None:
    """Refuse anything that is not an IANA time zone name."""
    if not value or value not in zoneinfo.available_timezones():
        raise ValidationError(_("“%(value)s” is not a known time zone."), params={"value": value}, code="invalid")


PHONE_CHARACTERS = set("0123456789 +-()")


def validate_phone(value: str) -> None:
    """A phone number as people write it: digits, spaces, + - ( ), with at least a few digits."""
    if value and (set(value) - PHONE_CHARACTERS or sum(c.isdigit() for c in value) < 3):
        raise ValidationError(
            _("Use digits, spaces and + - ( ) only, e.g. +1 555 0100."), code="invalid"
        )


def validate_date_of_birth(value: date) -> None:
    """A date of birth is in the past and within a human lifetime."""
    if value > timezone.localdate():
        raise ValidationError(_("The date of birth cannot be in the future."), code="future")
    if value.year < 1900:
        raise ValidationError(_("The date of birth must be in 1900 or later."), code="too_early")


def new_invitation_code() -> str:
    # Eight characters from an alphabet without look-alikes (no 0/O, 1/I/L): easy to read aloud.
    alphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(8))


def normalize_invitation_code(code: str) -> str:
    """A code as typed or read aloud ("demo-2345 ") in the form it was issued in ("DEMO2345")."""
    return (code or "").strip().upper().replace("-", "").replace(" ", "")


def invitation_code_digest(code: str) -> str:
    """What is stored of an invitation code: an HMAC keyed with SECRET_KEY, never the code itself.

    Codes are short (31 symbols, 8 places), so a plain hash could be reversed by trying them
    all; keyed, a copy of the database alone does not give them away.
    """
    return salted_hmac("prepapp.invitation-code", normalize_invitation_code(code), algorithm="sha256").hexdigest()


class Organization(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)
    # Where the care team works: the coordinators' morning alert email goes out at
    # ALERT_EMAIL_HOUR on this zone's clock.
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    # Who the patient calls: shown with every warning sign and after each check-in.
    care_team_phone = models.CharField(max_length=30, blank=True, validators=[validate_phone])
    after_hours_phone = models.CharField(max_length=30, blank=True, validators=[validate_phone])
    # The number that reaches emergency services where the clinic's patients live: the app's
    # "Call emergency services" buttons dial it. 911 is the guide's (a United States clinic's).
    emergency_number = models.CharField(max_length=10, default="911", validators=[validate_phone],
                                        help_text="Emergency services where your patients live, e.g. 911 or 112.")
    # When the care team reads check-ins (e.g. "Monday to Friday, 8:00 to 17:00"): the app
    # never implies that someone reads them around the clock.
    check_in_hours = models.CharField(max_length=120, blank=True)
    # Fasting before surgery, in hours before arrival (or the surgery time when no arrival time
    # is known). The defaults are general practice: a clinical lead confirms them.
    food_cutoff_hours = models.PositiveSmallIntegerField(default=8)
    clear_fluids_cutoff_hours = models.PositiveSmallIntegerField(default=2)
    fasting_rule_confirmed = models.BooleanField(default=False)
    # Coordinators too sign in with a second factor (clinical leads and operators always do).
    staff_second_factor_required = models.BooleanField(default=False)
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

    class Status(models.TextChoices):
        # Followed by the care team: on the roster, reminders planned and sent.
        ACTIVE = "active", _("Active")
        # Care finished: off the roster by default, nothing sent; the patient can still sign in and read.
        DISCHARGED = "discharged", _("Discharged")
        # Entered by mistake or no longer followed: off the roster, nothing sent, the patient signed out.
        ARCHIVED = "archived", _("Archived")

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="patients")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="patient", null=True, blank=True
    )
    full_name = models.CharField(max_length=200)
    contact_email = models.EmailField(blank=True)
    # Optional; with the name, it tells two patients of the same name apart at enrolment.
    date_of_birth = models.DateField(null=True, blank=True, validators=[validate_date_of_birth])
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    language = models.CharField(max_length=5, choices=Language.choices, default=Language.ENGLISH)
    weight_kg = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)

    # The facts the protocol's "applies if" conditions read: yes (True), no (False) or not yet
    # known (None, where a new patient starts). A step whose condition reads a fact not yet
    # known is given to the patient anyway, marked "if this applies to you" (see FACTS).
    smoker = models.BooleanField(null=True, blank=True, default=None)
    diabetic = models.BooleanField(null=True, blank=True, default=None)
    on_blood_thinners = models.BooleanField(null=True, blank=True, default=None)
    takes_nsaids = models.BooleanField(null=True, blank=True, default=None)
    bone_density_concern = models.BooleanField(
        null=True, blank=True, default=None, help_text="Weak bones (osteoporosis) are a concern: a DEXA scan is due."
    )
    heart_or_lung_condition = models.BooleanField(
        null=True, blank=True, default=None, help_text="A heart or lung condition: medical clearance is due."
    )

    # Reminder preferences, all in the patient's own wall-clock time.
    reminder_time = models.TimeField(default=time(9, 0))
    quiet_hours_start = models.TimeField(default=time(21, 0))
    quiet_hours_end = models.TimeField(default=time(8, 0))
    push_enabled = models.BooleanField(default=True)
    email_enabled = models.BooleanField(default=True)
    inapp_enabled = models.BooleanField(default=True)

    class ReminderStyle(models.TextChoices):
        DIGEST = "digest", _("One message a day listing what is due")
        PER_STEP = "per_step", _("One message per step")

    class ChannelPolicy(models.TextChoices):
        PUSH_THEN_EMAIL = "push_then_email", _("Push, and email only when push did not reach me")
        BOTH = "both", _("Both push and email")

    reminder_style = models.CharField(max_length=10, choices=ReminderStyle.choices, default=ReminderStyle.DIGEST)
    channel_policy = models.CharField(
        max_length=20, choices=ChannelPolicy.choices, default=ChannelPolicy.PUSH_THEN_EMAIL
    )

    # The unspent invitation code, as invitation_code_digest(code); empty once it is used or
    # replaced. The code itself is never stored: it is shown once, to whoever issued it.
    invitation_code_hash = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    invitation_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    # When the patient first signed in (with a code or an emailed link).
    invitation_accepted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # When the record was last saved: FHIR's meta.lastUpdated and `_lastUpdated` searches read it.
    updated_at = models.DateTimeField(auto_now=True)

    # Whether the care team still follows the patient; changed only by prepapp.workflows.patient_set_status.
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE, editable=False)
    status_changed_at = models.DateTimeField(null=True, blank=True, editable=False)
    status_reason = models.CharField(max_length=200, blank=True, editable=False)

    # Moves with every change to what the patient's plan shows: this row, their surgeries, the
    # checklists, steps and protocol versions they follow. Database triggers move it (migrations
    # prepapp 0007 and checklists 0007) in the same transaction as the change, whichever code
    # makes it (API, pages, admin, workflows, tasks, a bulk UPDATE), and whatever a save writes
    # here is replaced by the previous value plus one. The checklist's validator is built from it.
    plan_revision = models.PositiveBigIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["full_name", "id"]
        indexes = [models.Index(fields=["organization", "status"], name="patient_org_status")]

    # The plain code, on the instance returned by the service that issued it and nowhere else
    # (not saved, not on a patient read back from the database): the enrolment response shows it once.
    invitation_code: str | None = None

    def __str__(self):
        return self.full_name

    @property
    def invitation_is_open(self) -> bool:
        """An issued code is waiting to be used and has not expired."""
        expires_at = self.invitation_expires_at
        return bool(self.invitation_code_hash and expires_at and expires_at > timezone.now())

    @property
    def is_followed(self) -> bool:
        """Followed by the care team: reminders are planned and sent only for these patients."""
        return self.status == self.Status.ACTIVE

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    @property
    def given_name(self) -> str:
        """How the family speaks of the patient ("Walt's surgery"): the first word of the full name."""
        return (self.full_name or "").split(" ", 1)[0] or self.full_name

    def local_today(self, now=None):
        """Today's calendar date where the patient lives."""
        return (now or timezone.now()).astimezone(self.zone).date()

    @property
    def facts(self) -> dict:
        """{fact: True, False or None (not yet known)} for every fact the protocols may read."""
        return {name: getattr(self, name) for name in FACTS}


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
    arrival_time = models.TimeField(
        null=True, blank=True, help_text="When the patient arrives at the hospital, in the patient's time zone."
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.SCHEDULED)
    # The operation itself, when the coordinator knows it (prepapp.procedures): the patient's
    # "About your surgery" opens with the page about their approach and names the level.
    approach = models.CharField(max_length=20, choices=Approach.choices, blank=True)
    level = models.CharField(max_length=LEVEL_MAX_LENGTH, blank=True, validators=[validate_level])
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

    def clean(self):
        # One way of writing a level whoever saves it (the verbs, the admin): "l4-l5" is "L4–L5".
        # One that cannot be read is reported on the field by its validator.
        try:
            self.level = normalise_level(self.level)
        except ValidationError:
            pass
        if self.arrival_time and self.surgery_time and self.arrival_time > self.surgery_time:
            raise ValidationError({"arrival_time": _("The arrival time cannot be after the surgery time.")})

    def days_to_surgery(self, now=None) -> int:
        return (self.surgery_date - self.patient.local_today(now)).days


class SignInLink(models.Model):
    """A single-use sign-in link emailed to a patient for a new device. Only its token's SHA-256 is kept."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="sign_in_links")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"sign-in link for {self.patient} until {self.expires_at:%Y-%m-%d %H:%M}"


class SessionGeneration(models.Model):
    """Which of a user's sessions still count: those begun in the current generation.

    "Sign out everywhere" moves the generation on, and prepapp.session_policy ends every
    session stamped with an earlier one at its next request. A user without a row is in
    generation 0.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="session_generation"
    )
    generation = models.PositiveIntegerField(default=0)
    signed_out_everywhere_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.user}: generation {self.generation}"

    @classmethod
    def current(cls, user_id) -> int:
        return cls.objects.filter(user_id=user_id).values_list("generation", flat=True).first() or 0


# What this service notes in a signed-in session (read on every request by prepapp.session_policy).
SESSION_GENERATION_KEY = "prepapp_session_generation"
SESSION_KIND_KEY = "prepapp_session_kind"  # "patient", "caregiver" or "staff"
SESSION_LAST_ACTIVITY_KEY = "prepapp_last_activity"  # seconds since the epoch, when last refreshed


def session_idle_seconds(kind: str) -> int:
    """How long a session may sit unused: patients and their caregivers keep theirs far longer than staff."""
    if kind in ("patient", "caregiver"):
        return settings.PATIENT_SESSION_IDLE_DAYS * 24 * 3600
    return settings.STAFF_SESSION_IDLE_MINUTES * 60


def session_kind_of(user_id) -> str:
    """Whose a session is: a patient's, a caregiver's (an account made for following patients), or staff's."""
    if Patient.objects.filter(user_id=user_id).exists():
        return "patient"
    if CaregiverLink.objects.filter(caregiver_id=user_id).exists():
        return "caregiver"
    return "staff"


@receiver(user_logged_in, dispatch_uid="prepapp.stamp_new_session")
def stamp_new_session(sender, request, user, **kwargs):
    """Note in a new session its generation, whose it is, and when it was last used.

    Here, with the models, because this module is loaded with the app: the receiver is
    connected before any sign-in, however it happens (the app, the coordinator pages, the admin).
    """
    session = getattr(request, "session", None)
    if session is None:
        return
    kind = session_kind_of(user.pk)
    session[SESSION_GENERATION_KEY] = SessionGeneration.current(user.pk)
    session[SESSION_KIND_KEY] = kind
    session[SESSION_LAST_ACTIVITY_KEY] = int(timezone.now().timestamp())
    session.set_expiry(session_idle_seconds(kind))


class AuditTrailIsAppendOnly(Exception):
    """An attempt to change or remove an audit entry: the trail is only ever added to."""


def patient_reference(patient_id) -> str:
    """The pseudonymous name an audit entry keeps for its patient, also once the patient is erased."""
    return f"patient-{patient_id}"


class AuditEntryQuerySet(models.QuerySet):
    """Bulk updates and deletes are refused (erasing a patient clears the link through the base manager)."""

    def update(self, **kwargs):
        raise AuditTrailIsAppendOnly("Audit entries cannot be changed.")

    def delete(self):
        raise AuditTrailIsAppendOnly("Audit entries cannot be deleted.")


class AuditEntry(models.Model):
    """A member of staff read or changed a patient's record: who, what, which patient, when, from where.

    Append-only: an entry is never changed or deleted (on PostgreSQL a trigger enforces it as
    well). Erasing a patient keeps the entries: the link to the patient becomes empty and
    `patient_ref` still tells which (pseudonymous) patient they were about.
    """

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(
        Patient, on_delete=models.SET_NULL, null=True, blank=True, related_name="audit_entries"
    )
    patient_ref = models.CharField(max_length=40, blank=True)
    # The patient's organization when the entry was written: whose staff may read the entry.
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=40)
    path = models.CharField(max_length=300, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-at"]
        verbose_name_plural = "audit entries"

    def __str__(self):
        return f"{self.actor} {self.action} {self.patient or self.patient_ref} at {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        # Entries start without a primary key; one that has a key exists already and stays as it is.
        if self.pk is not None:
            raise AuditTrailIsAppendOnly("Audit entries cannot be changed.")
        if not self.patient_ref and self.patient_id is not None:
            self.patient_ref = patient_reference(self.patient_id)
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditTrailIsAppendOnly("Audit entries cannot be deleted.")


def erased_login_name(patient_id) -> str:
    """The user name an erased patient's login keeps when the audit trail names it (see below)."""
    return f"erased-{patient_reference(patient_id)}"


@receiver(post_delete, sender=Patient, dispatch_uid="prepapp.delete_patient_login")
def delete_patient_login(sender, instance: Patient, **kwargs):
    """A patient's login goes with the record, however it is deleted (erasure, admin, cascade).

    Unless the audit trail names the login as the actor of an entry (the patient's own
    health-check answers change their record and are audited): entries are never removed,
    so the login stays, emptied of everything personal, unusable, under the patient's
    pseudonym, as the entries about the patient do. Deleting it would be refused (the
    entries protect their actor) and the whole erasure with it.
    """
    if not instance.user_id:
        return
    logins = get_user_model().objects.filter(pk=instance.user_id)
    if not AuditEntry.objects.filter(actor_id=instance.user_id).exists():
        logins.delete()
        return
    logins.update(
        username=erased_login_name(instance.pk), email="", first_name="", last_name="",
        password=make_password(None), is_active=False, last_login=None,
    )
