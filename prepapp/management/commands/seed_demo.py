"""Demo data for trying the service locally: one clinic, its staff and a few patients."""

from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from checklists.models import Protocol
from prepapp.models import Organization, Patient, StaffMembership, SurgeryCase
from prepapp.reminders.models import Reminder
from prepapp.services import patient_enrol
from prepapp.workflows import case_book, checklist_assign, task_complete

DEMO_PASSWORD = "prepare-demo-2026"  # demo only; printed by `make run`
DEMO_PATIENT_CODE = "DEMO2345"
# The demo patient's next reminder is brought forward to this long after the demo starts,
# so whoever tries the demo sees one arrive (in the app's inbox and as a console email).
FIRST_REMINDER_AFTER = timedelta(seconds=60)

PATIENTS = [
    # name, code, days to surgery, time zone, facts, tasks already done
    ("Rosa Alvarez", DEMO_PATIENT_CODE, 35, "America/New_York",
     {"smoker": True, "takes_nsaids": True, "weight_kg": Decimal("72")}, 0),
    ("Walter Brooks", "DEMOWB67", 12, "America/Chicago",
     {"diabetic": True, "on_blood_thinners": True, "weight_kg": Decimal("95")}, 3),
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
        for username, role, is_superuser in [
            ("coordinator", StaffMembership.Role.COORDINATOR, False),
            ("lead", StaffMembership.Role.CLINICAL_LEAD, True),
        ]:
            user, created = User.objects.get_or_create(
                username=username, defaults={"is_staff": True, "is_superuser": is_superuser}
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
            StaffMembership.objects.get_or_create(user=user, organization=org, defaults={"role": role})

        protocol = Protocol.objects.get(key="mis-lumbar-fusion")
        version = protocol.latest_version()
        coordinator = User.objects.get(username="coordinator")
        today = timezone.localdate()
        for name, code, days, zone, facts, done in PATIENTS:
            if Patient.objects.filter(invitation_code=code).exists():
                continue
            details = {"time_zone": zone, "contact_email": f"{code.lower()}@example.org", **facts}
            patient = patient_enrol(organization=org, full_name=name, **details)
            Patient.objects.filter(pk=patient.pk).update(invitation_code=code)
            patient.user.username = f"patient-{code.lower()}"
            patient.user.save(update_fields=["username"])
            case = case_book(
                patient=patient,
                procedure="Minimally invasive lumbar fusion (L4-L5)",
                surgeon="Dr. Imani Okafor",
                surgery_date=today + timedelta(days=days),
            )
            checklist = checklist_assign(case=case, protocol_version=version, assigned_by=coordinator)
            for task in checklist.tasks.order_by("due_date")[:done]:
                task_complete(task=task, by=patient.user)
        first = bring_next_reminder_forward(code=DEMO_PATIENT_CODE, at=timezone.now() + FIRST_REMINDER_AFTER)
        if first:
            self.stdout.write(f"The demo patient's next reminder ({first}) is due in about a minute.")
        self.stdout.write(
            f"Demo ready: staff 'coordinator' and 'lead' (password {DEMO_PASSWORD}); "
            f"patient invitation code {DEMO_PATIENT_CODE}. Cases: {SurgeryCase.objects.filter(patient__organization=org).count()}"
        )


def bring_next_reminder_forward(*, code: str, at) -> str | None:
    """Move the patient's next planned reminder (every channel of it) to `at`; return its rule.

    Only its send time changes: the row is the one the plan made, so delivery's checks
    (task open, surgery scheduled, same date) pass as they would on the day.
    """
    patient = Patient.objects.filter(invitation_code=code).first()
    if patient is None:
        return None
    pending = Reminder.objects.filter(patient=patient, status=Reminder.Status.PENDING)
    nxt = pending.order_by("send_at", "id").first()
    if nxt is None:
        return None
    pending.filter(task_id=nxt.task_id, rule=nxt.rule, anchor_date=nxt.anchor_date).update(send_at=at, updated_at=timezone.now())
    return nxt.rule
