"""The daily digest: planning one row per patient, channel and day, and delivering it from the steps as they are.

Real PostgreSQL and a real SMTP server on loopback.
"""

import threading
from datetime import timedelta

import pytest
from django.db import IntegrityError, close_old_connections, transaction
from django.utils import timezone

from checklists.models import Task
from prepapp.models import Patient
from prepapp.reminders import compose, delivery, digest, outbox, planning
from prepapp.reminders.models import DIGEST_RULE, DeliveryAttempt, InboxMessage, Reminder
from prepapp.reminders.timing import in_quiet_hours
from prepapp.workflows import patient_update, task_complete

from .support.outbox import deliver_all, no_quiet_hours

pytestmark = pytest.mark.django_db
INAPP, EMAIL, PUSH = Reminder.Channel.INAPP, Reminder.Channel.EMAIL, Reminder.Channel.PUSH


def digests(patient, **filters):
    return Reminder.objects.filter(patient=patient, rule=DIGEST_RULE, task__isnull=True, **filters)


def make_digest_due(patient, day, channel):
    """Only this digest falls due now: every other pending row of the patient waits."""
    Reminder.objects.filter(patient=patient, status="pending").update(send_at=timezone.now() + timedelta(days=400))
    row = digests(patient, channel=channel, anchor_date=day).get()
    Reminder.objects.filter(pk=row.pk).update(send_at=timezone.now() - timedelta(seconds=5), status="pending")
    return row


# --- Planning ------------------------------------------------------------------------------


def test_digest_by_default_one_row_per_channel_and_day_critical_steps_also_on_their_own(pat, pat_checklist):
    assert pat.reminder_style == Patient.ReminderStyle.DIGEST
    assert pat.channel_policy == Patient.ChannelPolicy.PUSH_THEN_EMAIL
    pending = Reminder.objects.filter(patient=pat, status="pending")
    # Per-step rows only for the critical steps on pat's list: she takes NSAIDs, and whether she
    # takes blood thinners is not known yet, so that plan and its restart after surgery are on
    # her list "if it applies".
    assert pat.on_blood_thinners is None
    stepped = set(pending.filter(task__isnull=False).values_list("task__definition__key", flat=True))
    assert stepped == {"stop-nsaids", "blood-thinner-plan", "restart-blood-thinner"}
    # Email waits behind push: planned on in-app and push only.
    assert set(pending.values_list("channel", flat=True)) == {INAPP, PUSH}
    days = set(digests(pat).values_list("anchor_date", flat=True))
    assert days
    for channel in (INAPP, PUSH):
        assert sorted(digests(pat, channel=channel).values_list("anchor_date", flat=True)) == sorted(days)
    # Every day a non-critical step's rule falls on (from today) has a digest, and no other day.
    today = pat.local_today()
    expected = set()
    for task in Task.objects.filter(checklist=pat_checklist, status="open").select_related("definition"):
        if task.definition.critical:
            continue
        for rule in task.definition.reminder_rules:
            day = planning.anchor_date_for(task, rule)
            if day is not None and day >= today:
                expected.add(day)
    # Except today's, when its reminder time has passed and the patient's quiet hours have begun
    # (the run's clock decides: pat lives in New York): no message is sent in quiet hours.
    now = timezone.now()
    quiet_now = in_quiet_hours(now.astimezone(pat.zone).time(), pat.quiet_hours_start, pat.quiet_hours_end)
    if planning.next_send_day(pat, now) > today and quiet_now:
        expected.discard(today)
    assert days == expected
    # Far fewer messages than one per step per rule per channel.
    per_step = sum(
        len(planning.planned_rows(t, pat, timezone.now()))
        for t in Task.objects.filter(checklist=pat_checklist).select_related("definition")
    )
    assert pending.count() < per_step


def test_planning_twice_adds_nothing_and_the_database_refuses_a_second_digest(pat, pat_checklist):
    before = sorted(digests(pat).values_list("id", "channel", "anchor_date"))
    planning.plan_for_tasks(tasks=Task.objects.filter(checklist=pat_checklist).select_related("definition"), patient=pat)
    planning.replan_digests(patient=pat)
    assert sorted(digests(pat).values_list("id", "channel", "anchor_date")) == before
    row = digests(pat).first()
    with pytest.raises(IntegrityError), transaction.atomic():
        Reminder.objects.create(patient=pat, task=None, rule=DIGEST_RULE, channel=row.channel,
                                anchor_date=row.anchor_date, send_at=row.send_at, status="cancelled")


@pytest.mark.django_db(transaction=True)
def test_two_plannings_at_once_make_one_row_per_patient_channel_and_day(pat, pat_checklist):
    Reminder.objects.filter(patient=pat).delete()
    barrier = threading.Barrier(4)
    errors = []

    def plan():
        try:
            barrier.wait()
            with transaction.atomic():
                planning.replan_digests(patient=Patient.objects.get(pk=pat.pk))
        except Exception as exc:  # noqa: BLE001 — reported below
            errors.append(exc)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=plan) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    keys = list(digests(pat).values_list("channel", "anchor_date"))
    assert keys and len(keys) == len(set(keys))


def test_switching_to_digest_replaces_pending_per_step_rows_of_non_critical_steps(pat, pat_checklist):
    pat = patient_update(patient=pat, reminder_style="per_step")
    assert not digests(pat, status="pending").exists()
    per_step = Reminder.objects.filter(patient=pat, status="pending", task__isnull=False)
    assert per_step.exclude(task__definition__critical=True).exists()
    patient_update(patient=pat, reminder_style="digest")
    pending = Reminder.objects.filter(patient=pat, status="pending")
    # Blood thinners: not known yet, so the plan and its restart are on her list.
    critical = {"stop-nsaids", "blood-thinner-plan", "restart-blood-thinner"}
    assert set(pending.filter(task__isnull=False).values_list("task__definition__key", flat=True)) == critical
    cancelled = Reminder.objects.filter(patient=pat, status="cancelled", task__definition__critical=False)
    assert cancelled.exists() and set(cancelled.values_list("last_error", flat=True)) == {"plan changed"}
    assert digests(pat, status="pending").exists()


def test_both_channels_plans_email_beside_push(pat, pat_checklist):
    patient_update(patient=pat, channel_policy="both")
    assert set(digests(pat, status="pending").values_list("channel", flat=True)) == {INAPP, PUSH, EMAIL}


# --- Content and delivery -------------------------------------------------------------------


def first_due_day(pat, pat_checklist):
    """A digest day with a non-critical step due on it."""
    days = set(digests(pat).values_list("anchor_date", flat=True))
    task = (
        Task.objects.filter(checklist=pat_checklist, status="open", definition__critical=False, due_date__in=days)
        .select_related("definition").order_by("due_date").first()
    )
    return task.due_date


def test_a_digest_email_lists_the_day_with_a_link_per_step(pat, pat_checklist, email_to_sink, settings,
                                                          django_capture_on_commit_callbacks):
    no_quiet_hours(pat)
    settings.SITE_URL = "https://prep.example.org"
    pat = patient_update(patient=pat, push_enabled=False)  # email is then planned directly
    day = first_due_day(pat, pat_checklist)
    row = make_digest_due(pat, day, EMAIL)
    content = digest.build(pat, day)
    assert content.due and all(item.due_date >= day for item in content.due)
    deliver_all(django_capture_on_commit_callbacks)
    row.refresh_from_db()
    assert row.status == "sent"
    [message] = email_to_sink.received()
    assert message["To"] == "pat@example.org" and message["X-Reminder-Id"] == str(row.id)
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for item in content.due:
        title = item.definition.title
        assert title in text and title in html
        assert f"?to={item.task_id}" in text  # each step's own link, through the receipt
    assert "https://prep.example.org/r/" in html
    assert DeliveryAttempt.objects.filter(reminder=row, outcome="sent").count() == 1


def test_a_digest_in_spanish_in_the_app(paul, protocol_version, carol, django_capture_on_commit_callbacks):
    from prepapp.workflows import case_book, checklist_assign

    from .factories import days_from_today

    case = case_book(patient=paul, procedure="Fusión", surgery_date=days_from_today(30))
    checklist = checklist_assign(case=case, protocol_version=protocol_version, assigned_by=carol)
    no_quiet_hours(paul)
    day = first_due_day(paul, checklist)
    row = make_digest_due(paul, day, INAPP)
    deliver_all(django_capture_on_commit_callbacks)
    message = InboxMessage.objects.get(reminder=row)
    assert message.task_id is None
    # Nothing is overdue on a new checklist, so no alert: the plain title, and the step due that day as "today".
    assert message.title.startswith("Su preparación: ")
    due = Task.objects.filter(checklist=checklist, due_date=day, definition__critical=False).select_related("definition")
    assert due, "the day chosen has a step due on it"
    for task in due:
        assert f"Para hoy: {task.definition.localized('es')['title']}" in message.body


def test_a_digest_whose_steps_are_done_by_send_time_is_not_sent(pat, pat_checklist, carol,
                                                                django_capture_on_commit_callbacks):
    no_quiet_hours(pat)
    day = first_due_day(pat, pat_checklist)
    row = make_digest_due(pat, day, INAPP)
    # Ticked off after planning: done before the digest goes (and nothing overdue is left).
    for item in digest.build(pat, day).items:
        Task.objects.filter(pk=item.task_id).update(status="done", completed_at=timezone.now())
    Reminder.objects.filter(pk=row.pk).update(status="pending", send_at=timezone.now() - timedelta(seconds=5))
    deliver_all(django_capture_on_commit_callbacks)
    row.refresh_from_db()
    assert row.status == "cancelled" and "nothing left" in row.last_error
    assert not InboxMessage.objects.filter(reminder=row).exists()


def test_a_digest_is_recomposed_from_the_steps_as_they_are(pat, pat_checklist, carol,
                                                           django_capture_on_commit_callbacks):
    no_quiet_hours(pat)
    day = first_due_day(pat, pat_checklist)
    items = digest.build(pat, day).items
    row = make_digest_due(pat, day, INAPP)
    done = Task.objects.get(pk=items[0].task_id)
    task_complete(task=done, by=carol)
    # Completing a step replans the digests; the row may still be wanted for the others.
    Reminder.objects.filter(pk=row.pk).update(status="pending", send_at=timezone.now() - timedelta(seconds=5))
    deliver_all(django_capture_on_commit_callbacks)
    row.refresh_from_db()
    remaining = [i for i in items if i.task_id != done.id]
    if remaining:
        assert row.status == "sent"
        body = InboxMessage.objects.get(reminder=row).body
        assert done.definition.title not in body
        assert remaining[0].definition.title in body
    else:
        assert row.status == "cancelled"


def test_a_redelivered_digest_batch_sends_nothing_twice(pat, pat_checklist, django_capture_on_commit_callbacks):
    no_quiet_hours(pat)
    day = first_due_day(pat, pat_checklist)
    make_digest_due(pat, day, INAPP)
    calls = []
    with django_capture_on_commit_callbacks(execute=True):
        outbox.claim_due(limit=100, enqueue=lambda c, i, t: calls.append((c, i, t)))
    for channel, ids, token in calls + calls:
        delivery.deliver_batch(ids=ids, token=token, channel=channel)
    assert InboxMessage.objects.filter(patient=pat).count() == 1


def test_compose_names_the_step_the_care_team_was_alerted_about(pat, pat_checklist):
    from prepapp.reminders.escalation import raise_alerts

    task = Task.objects.get(checklist=pat_checklist, definition__key="stop-nsaids")
    Task.objects.filter(pk=task.pk).update(due_date=pat.local_today() - timedelta(days=2), window_start=None)
    [alert] = raise_alerts()
    assert alert.task_id == task.id
    # The next digest (at the patient's next reminder time) exists and names it first.
    day = planning.next_send_day(pat, timezone.now())
    row = digests(pat, channel=INAPP, anchor_date=day).get()
    message = compose.compose(row)
    assert message.title == f"Still not done: {task.definition.title}"
    assert "care team" in message.body


def test_a_batch_of_digests_reads_their_steps_once_for_all(pat, paul, pat_checklist, protocol_version, carol,
                                                           django_capture_on_commit_callbacks):
    """Rechecking a batch's digests reads the patients' surgeries, open steps and alerts in three
    statements for the whole batch, not three per digest: one digest or several of two patients
    take the same statements."""
    from django.db import connection

    from prepapp.workflows import case_book, checklist_assign

    from .support.outbox import claim_all

    def statements_of_one_batch():
        [(channel, ids, token)] = claim_all(django_capture_on_commit_callbacks)
        statements = []

        def count(execute, sql, params, many, context):
            statements.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            report = delivery.deliver_batch(ids=ids, token=token, channel=channel)
        return len(statements), report

    no_quiet_hours(pat)
    make_digest_due(pat, first_due_day(pat, pat_checklist), INAPP)
    one, report = statements_of_one_batch()
    assert report.sent == 1
    no_quiet_hours(paul)
    case = case_book(patient=paul, procedure="Lumbar fusion", surgery_date=pat_checklist.case.surgery_date)
    checklist = checklist_assign(case=case, protocol_version=protocol_version, assigned_by=carol)
    # Every digest of both patients (some days ahead: the recheck reads the same, the words differ).
    now = timezone.now() - timedelta(seconds=5)
    wanted = list(digests(pat, channel=INAPP, status="pending")) + list(digests(paul, channel=INAPP, status="pending"))
    Reminder.objects.filter(patient__in=[pat, paul], status="pending").update(send_at=now + timedelta(days=400))
    Reminder.objects.filter(pk__in=[r.pk for r in wanted]).update(send_at=now)
    assert len(wanted) >= 4 and checklist
    several, report = statements_of_one_batch()
    assert report.taken == len(wanted)
    assert several == one
