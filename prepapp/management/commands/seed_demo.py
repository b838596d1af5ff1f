"""Demo data for trying the service locally: one clinic, its staff and a few patients."""

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

from checklists.models import Protocol
from prepapp.admin_scoping import clinical_lead_group
from prepapp.models import Organization, Patient, StaffMembership, SurgeryCase, invitation_code_digest
from prepapp.reminders.models import Reminder
from prepapp.services import patient_enrol
from prepapp.two_factor import RECOVERY_DEVICE_NAME
from prepapp.workflows import case_book, checklist_assign, task_complete

DEMO_PASSWORD = "prepare-demo-2026"  # nosec B105  # the demo's published password, printed by `make run`
# Codes work once: each run of this command issues the demo codes again, valid for
# INVITATION_CODE_TTL_DAYS, so `make run` always prints one that signs in.
DEMO_PATIENT_CODE = "DEMO2345"
# The demo patient's next reminder is brought forward to this long after the demo starts,
# so whoever tries the demo sees one arrive (in the app's inbox and as a console email).
FIRST_REMINDER_AFTER = timedelta(seconds=60)
# A clinical lead signs in with a second factor: the demo's lead gets this many fresh recovery
# codes at each run (printed), so that a newcomer can sign in without setting up a phone first.
DEMO_RECOVERY_CODES = 5

PATIENTS = [
    # name, code, days to surgery, time zone, facts, tasks already done. Facts left out are
    # not known yet: Rosa's steps that depend on them ask for the app's health check.
    ("Rosa Alvarez", DEMO_PATIENT_CODE, 35, "America/New_York",
     {"smoker": True, "takes_nsaids": True, "weight_kg": Decimal("72")}, 0),
    ("Walter Brooks", "DEMOWB67", 12, "America/Chicago",
     {"diabetic": True, "on_blood_thinners": True, "smoker": False, "takes_nsaids": False,
      "bone_density_concern": False, "heart_or_lung_condition": True, "weight_kg": Decimal("95")}, 3),
    ("Ana Castillo", "DEMOAC89", 50, "America/Los_Angeles",
     {"language": "es", "weight_kg": Decimal("61")}, 0),
]


class Command(BaseCommand):
    help = "Create the demo clinic, a coordinator, a clinical lead and patients with checklists (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        call_command("load_protocols", stdout=self.stdout)
        User = get_user_model()
        org, _ = Organization.objects.get_or_create(slug="riverside-spine", defaults={"name": "Riverside Spine Center"})
        # Fictional numbers (the 555 01xx range): a demo must never send anyone to a real phone.
        Organization.objects.filter(pk=org.pk, care_team_phone="").update(
            care_team_phone="+1 555 0100", after_hours_phone="+1 555 0199", emergency_number="911",
            check_in_hours="Monday to Friday, 8:00 to 17:00",
        )
        # The clinical lead uses the admin as staff, not as superuser: the group's model
        # permissions, within her organization's rows. Superuser is the operator's alone.
        lead_group = clinical_lead_group()
        for username, role in [
            ("coordinator", StaffMembership.Role.COORDINATOR),
            ("lead", StaffMembership.Role.CLINICAL_LEAD),
        ]:
            user, created = User.objects.get_or_create(username=username, defaults={"is_staff": True})
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
            elif user.is_superuser:
                # A demo database seeded before leads stopped being superusers.
                user.is_superuser = False
                user.save(update_fields=["is_superuser"])
            if role == StaffMembership.Role.CLINICAL_LEAD:
                user.groups.add(lead_group)
            StaffMembership.objects.get_or_create(user=user, organization=org, defaults={"role": role})

        protocol = Protocol.objects.get(key="mis-lumbar-fusion")
        version = protocol.latest_version()
        coordinator = User.objects.get(username="coordinator")
        today = timezone.localdate()
        for name, code, days, zone, facts, done in PATIENTS:
            patient = demo_patient(org, code)
            if patient is not None:
                reissue_demo_code(patient, code)
                continue
            details = {"time_zone": zone, "contact_email": demo_email(code), **facts}
            patient = patient_enrol(organization=org, full_name=name, **details)
            reissue_demo_code(patient, code)
            case = case_book(
                patient=patient,
                procedure="Minimally invasive lumbar fusion (L4-L5)",
                surgeon="Dr. Imani Okafor",
                approach="mis-tlif",
                level="L4-L5",
                surgery_date=today + timedelta(days=days),
            )
            checklist = checklist_assign(case=case, protocol_version=version, assigned_by=coordinator)
            for task in checklist.tasks.order_by("due_date")[:done]:
                task_complete(task=task, by=patient.user)
        first = bring_next_reminder_forward(
            patient=demo_patient(org, DEMO_PATIENT_CODE), at=timezone.now() + FIRST_REMINDER_AFTER
        )
        if first:
            self.stdout.write(f"The demo patient's next reminder ({first}) is due in about a minute.")
        if settings.DEBUG:
            # Development only: never hand out sign-in codes from a production deployment.
            codes = demo_recovery_codes(User.objects.get(username="lead"))
            self.stdout.write(
                "The clinical lead 'lead' types a code after the password (coordinator pages and admin): "
                f"one of {', '.join(codes)} (each works once; this command prints new ones each run)."
            )
        self.stdout.write(
            f"Demo ready: staff 'coordinator' and 'lead' (password {DEMO_PASSWORD}); "
            f"patient invitation code {DEMO_PATIENT_CODE} (works once; run this again for another go). Cases: {SurgeryCase.objects.filter(patient__organization=org).count()}"
        )


def demo_recovery_codes(user) -> list[str]:
    """Fresh recovery codes for a demo account (django-otp's static device), replacing its earlier ones.

    An authenticator app the newcomer set up on the coordinator pages is kept.
    """
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(DEMO_RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def demo_email(code: str) -> str:
    return f"{code.lower()}@example.org"


def demo_patient(org: Organization, code: str) -> Patient | None:
    """A demo patient is known by the email address made from their code (the code itself is not stored)."""
    return Patient.objects.filter(organization=org, contact_email=demo_email(code)).first()


def reissue_demo_code(patient: Patient, code: str) -> None:
    """Give the demo patient their well-known code again, unspent and valid for the usual time.

    Demo only: real codes are random (prepapp.services issues them) and never chosen.
    """
    Patient.objects.filter(invitation_code_hash=invitation_code_digest(code)).exclude(pk=patient.pk).update(
        invitation_code_hash=None, invitation_expires_at=None
    )
    Patient.objects.filter(pk=patient.pk).update(
        invitation_code_hash=invitation_code_digest(code),
        invitation_expires_at=timezone.now() + timedelta(days=settings.INVITATION_CODE_TTL_DAYS),
    )


def bring_next_reminder_forward(*, patient: Patient | None, at) -> str | None:
    """Move the patient's next planned reminder (every channel of it) to `at`; return its rule.

    Only its send time changes: the row is the one the plan made, so delivery's checks
    (task open, surgery scheduled, same date) pass as they would on the day.
    """
    if patient is None:
        return None
    pending = Reminder.objects.filter(patient=patient, status=Reminder.Status.PENDING, task__isnull=False)
    nxt = pending.order_by("send_at", "id").first()
    if nxt is None:
        return None
    pending.filter(task_id=nxt.task_id, rule=nxt.rule, anchor_date=nxt.anchor_date).update(send_at=at, updated_at=timezone.now())
    return nxt.rule
