"""Fill a fault run's database: `python -m tests.support.fault_seed SPEC.json OUT.json`.

Runs in its own process against the database DATABASE_URL names (the private cluster of a
fault test or of `bench.faults`), as the operator's processes would see it. The spec says
how many patients and how many due reminders per channel each gets, and the push
subscriptions of their fake browsers; the output lists the due reminder ids per channel.
"""

from __future__ import annotations

import io
import json
import os
import sys
from datetime import time, timedelta


def seed(spec: dict) -> dict:
    from django.core.management import call_command
    from django.utils import timezone

    from checklists.models import Protocol, Task
    from prepapp.models import Patient, StaffMembership
    from prepapp.reminders import planning
    from prepapp.reminders.models import PushSubscription, Reminder
    from prepapp.services import patient_enrol
    from prepapp.workflows import case_book, checklist_assign
    from tests.factories import OrganizationFactory, StaffFactory, UserFactory

    call_command("load_protocols", stdout=io.StringIO())
    version = Protocol.objects.get(key="mis-lumbar-fusion").latest_version()
    clinic = OrganizationFactory(name="Riverside Spine Center", slug="riverside")
    carol = StaffFactory(user=UserFactory(username="carol"), organization=clinic, role=StaffMembership.Role.COORDINATOR).user
    zones = ["America/New_York", "Europe/Madrid", "Australia/Sydney", "Asia/Kolkata", "America/Los_Angeles", "UTC"]
    per_channel: dict[str, int] = spec["per_channel"]
    subscriptions = spec.get("subscriptions") or []
    now = timezone.now()
    rows: list[Reminder] = []
    for i in range(spec["patients"]):
        patient = patient_enrol(
            organization=clinic, full_name=f"Patient {i:03d}", contact_email=f"p{i:03d}@example.org",
            time_zone=zones[i % len(zones)], smoker=True, takes_nsaids=True,
        )
        case = case_book(patient=patient, procedure="Fusion", surgery_date=timezone.localdate() + timedelta(days=35))
        checklist_assign(case=case, protocol_version=version, assigned_by=carol)
        # Runs happen at any hour: no quiet hours, so the clock of the run does not matter.
        Patient.objects.filter(pk=patient.pk).update(quiet_hours_start=time(0), quiet_hours_end=time(0))
        if i < len(subscriptions):
            endpoint, p256dh, auth = subscriptions[i]
            PushSubscription.objects.create(patient=patient, endpoint=endpoint, p256dh=p256dh, auth=auth)
        Reminder.objects.filter(patient=patient).delete()
        candidates = []
        tasks = Task.objects.filter(checklist__case__patient=patient, status=Task.Status.OPEN).select_related("definition")
        for task in tasks.order_by("id"):
            for rule in task.definition.reminder_rules:
                day = planning.anchor_date_for(task, rule)
                if day is not None:
                    candidates.append((task, rule["key"], day))
        for channel, count in per_channel.items():
            if channel == Reminder.Channel.PUSH and i >= len(subscriptions):
                continue
            if len(candidates) < count:
                raise SystemExit(f"only {len(candidates)} reminders per channel can be made due, not {count}")
            for task, rule, day in candidates[:count]:
                rows.append(Reminder(task=task, patient=patient, rule=rule, channel=channel, anchor_date=day,
                                     send_at=now + timedelta(days=365)))
    created = Reminder.objects.bulk_create(rows, batch_size=1000)
    out: dict[str, list[int]] = {}
    for row in created:
        out.setdefault(row.channel, []).append(row.id)
    return out


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    spec_path, out_path = sys.argv[1], sys.argv[2]
    with open(spec_path) as f:
        spec = json.load(f)
    result = seed(spec)
    with open(out_path, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
