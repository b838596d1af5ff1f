"""The per-reminder task a django-celery-beat setup would schedule, doing the same work as delivery."""

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from prepapp.reminders.compose import compose
from prepapp.reminders.recheck import recheck
from prepapp.reminders.models import DeliveryAttempt, InboxMessage, Reminder


@shared_task(name="bench.tasks.deliver_one", ignore_result=True)
def deliver_one(reminder_id):
    now = timezone.now()
    with transaction.atomic():
        reminder = (
            Reminder.objects.select_for_update(of=("self",))
            .select_related("patient", "task__definition", "task__checklist__case")
            .get(id=reminder_id)
        )
        if reminder.status != Reminder.Status.PENDING:
            return
        reminder.send_at = now  # it is due now: the clocked schedule said so
        if recheck(reminder, now) is not None:
            return
        message = compose(reminder, now)
        InboxMessage.objects.create(patient_id=reminder.patient_id, reminder=reminder, task_id=reminder.task_id,
                                    title=message.title, body=message.body, created_at=now)
        Reminder.objects.filter(id=reminder_id).update(status=Reminder.Status.SENT, sent_at=now, attempts=1, updated_at=now)
        DeliveryAttempt.objects.create(reminder=reminder, patient_id=reminder.patient_id, channel=reminder.channel,
                                       outcome="sent", at=now)
