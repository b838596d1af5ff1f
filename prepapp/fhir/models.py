"""What the FHIR connection keeps: integration clients, the EHR's identifiers, the procedure mapping, held matches.

The records themselves (patients, surgeries, checklists) stay where they are; these rows only
tie them to the hospital's own identifiers, so that the same bundle posted again finds what
the first one made.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from checklists.models import Protocol
from prepapp.models import Organization, Patient, SurgeryCase


class IntegrationClient(models.Model):
    """An EHR's interface engine, allowed to post its surgical schedule for one organization.

    Its own credential, never a staff password: a random key shown once when it is issued, of
    which only the SHA-256 is kept. Each client acts through a login of its own that no one
    can sign in with (no password, no staff membership), so that the audit trail names it as
    it names a member of staff.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="integration_clients")
    name = models.CharField(max_length=120, help_text=_("Who connects, e.g. “Main hospital EHR interface”."))
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="integration_client")
    key_digest = models.CharField(max_length=64, unique=True, editable=False)
    # The key's first characters, to tell keys apart in the admin (the rest is never stored).
    key_prefix = models.CharField(max_length=12, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    # The plain key, on the instance returned by the service that issued it and nowhere else.
    key: str | None = None

    class Meta:
        ordering = ["organization", "name", "id"]

    def __str__(self):
        return f"{self.name} ({self.organization})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class PatientIdentifier(models.Model):
    """One of the hospital's identifiers of a patient (system + value, e.g. the MRN)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="ehr_identifiers")
    system = models.CharField(max_length=300)
    value = models.CharField(max_length=200)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "system", "value"], name="unique_patient_identifier")
        ]

    def __str__(self):
        return f"{self.system}|{self.value}"


class AppointmentLink(models.Model):
    """The hospital's identifier of a surgery appointment, and the surgery it booked here."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    case = models.OneToOneField(SurgeryCase, on_delete=models.CASCADE, related_name="ehr_appointment")
    system = models.CharField(max_length=300)
    value = models.CharField(max_length=200)
    # The EHR's own status for it, as last imported (booked, cancelled, fulfilled…).
    ehr_status = models.CharField(max_length=20)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "system", "value"], name="unique_appointment_identifier")
        ]

    def __str__(self):
        return f"{self.system}|{self.value}"


class ProcedureMapping(models.Model):
    """Which protocol a procedure code of the hospital's schedule is prepared with (SNOMED CT, CPT…)."""

    SNOMED = "http://snomed.info/sct"
    CPT = "http://www.ama-assn.org/go/cpt"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="procedure_mappings")
    system = models.CharField(
        max_length=300, default=SNOMED,
        help_text=_("The code system, e.g. http://snomed.info/sct or http://www.ama-assn.org/go/cpt."),
    )
    code = models.CharField(max_length=64)
    display = models.CharField(max_length=200, blank=True)
    protocol = models.ForeignKey(Protocol, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["organization", "system", "code"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "system", "code"], name="unique_procedure_mapping")
        ]

    def __str__(self):
        return f"{self.code} {self.display} → {self.protocol}"


class HeldMatch(models.Model):
    """A patient in a bundle who has no known identifier but the name and birth date of an enrolled one.

    Never merged by name alone: a coordinator looks and decides. Until then nothing of that
    entry is enrolled or booked; posting it again updates the same row.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    candidate = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    system = models.CharField(max_length=300)
    value = models.CharField(max_length=200)
    full_name = models.CharField(max_length=200)
    date_of_birth = models.DateField(null=True, blank=True)
    received_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name_plural = "held matches"
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "system", "value"], condition=Q(resolved_at__isnull=True),
                name="one_open_held_match_per_identifier",
            )
        ]

    def __str__(self):
        return f"{self.full_name} ({self.system}|{self.value}) may be {self.candidate}"


class FhirSource(models.Model):
    """A hospital FHIR server the service polls for its surgical schedule (pull mode), for one organization.

    The poll asks for `Appointment?date=ge<today>&_lastUpdated=gt<watermark>` and feeds what
    it reads to the same import as a posted bundle (prepapp.fhir.pull). The watermark is the
    server's own time of the last poll that was imported whole: it moves only on success, so
    a failed poll is asked again, from the same point, by the next one.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="fhir_sources")
    name = models.CharField(max_length=120, help_text=_("Which server it is, e.g. “Main hospital EHR”."))
    base_url = models.URLField(
        max_length=500, help_text=_("The FHIR R4 base address, e.g. https://ehr.example.org/fhir/R4."),
    )
    # The bearer token, sealed (prepapp.lib.sealed): the service must send it, so it cannot be hashed.
    sealed_token = models.TextField(blank=True, editable=False)
    enabled = models.BooleanField(default=True)
    # The login the imports act as, so that the audit trail names the source (no password, no staff membership).
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="fhir_source")
    created_at = models.DateTimeField(auto_now_add=True)
    watermark = models.DateTimeField(
        null=True, blank=True, editable=False,
        help_text=_("The server's time of the last poll imported whole: the next poll asks for what changed after it."),
    )
    last_success_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True, editable=False)
    last_error_at = models.DateTimeField(null=True, blank=True, editable=False)
    # What the last successful poll read and did.
    last_appointments = models.PositiveIntegerField(default=0, editable=False)
    last_patients = models.PositiveIntegerField(default=0, editable=False)
    last_created = models.PositiveIntegerField(default=0, editable=False)
    last_changed = models.PositiveIntegerField(default=0, editable=False)
    last_held = models.PositiveIntegerField(default=0, editable=False)
    # A poll under way: taken by compare-and-set, until this time at the latest (a worker that died lets go by itself).
    claimed_until = models.DateTimeField(null=True, blank=True, editable=False)
    claim_token = models.CharField(max_length=32, blank=True, editable=False)

    class Meta:
        ordering = ["organization", "name", "id"]
        verbose_name = _("FHIR source (pull)")
        verbose_name_plural = _("FHIR sources (pull)")
        constraints = [
            models.UniqueConstraint(fields=["organization", "base_url"], name="one_source_per_server_and_organization")
        ]

    def __str__(self):
        return f"{self.name} ({self.organization})"

    @property
    def has_token(self) -> bool:
        return bool(self.sealed_token)
