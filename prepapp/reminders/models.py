"""The reminder engine's records: the outbox, the delivery log, the in-app inbox, push subscriptions.

A little over 400 lines since the family's records (their inbox and push subscriptions) joined
the patient's: each pair shares the outbox's constraints and the transports that read them, and
keeping them side by side shows that a family row and a patient row are one outbox.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from prepapp.models import CaregiverLink, Organization, Patient

# The rule of a daily digest row: one message per patient, channel and day, no task.
DIGEST_RULE = "digest"
# The safety net's own reminders, rows without a task (see safety_reminders.py): the check-in at
# home on each of its days (anchor date: that day), the evening before surgery (anchor date: the
# surgery day), and the rules said again when a recovery stage begins, a rule ends or the care
# team lifts one (anchor date: that day).
CHECK_IN_RULE = "check-in"
DAY_BEFORE_RULE = "day-before"
RULES_RULE = "rules"
PATIENT_RULES = (CHECK_IN_RULE, DAY_BEFORE_RULE, RULES_RULE)
# What the family hears (rows with a caregiver, see family.py): the evening before and the rules
# said again, as the patient gets them; the morning of surgery (the ride home and the adult who
# stays, anchor date: the surgery day); and a critical step newly overdue (the alert's task and
# due date).
DAY_OF_RULE = "day-of"
OVERDUE_ALERT_RULE = "overdue-alert"
FAMILY_RULES = (DAY_BEFORE_RULE, DAY_OF_RULE, RULES_RULE)


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


class Announcement(models.Model):
    """News for the patient that is not about one step: their surgery was booked, moved or cancelled.

    What happened is kept here, as facts (dates, the steps whose dates changed); the words
    are composed in the patient's language when each channel's outbox row goes out.
    """

    class Event(models.TextChoices):
        BOOKED = "booked", _("Surgery booked")
        MOVED = "moved", _("Surgery moved")
        CANCELLED = "cancelled", _("Surgery cancelled")

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="announcements")
    case = models.ForeignKey("prepapp.SurgeryCase", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    event = models.CharField(max_length=20, choices=Event.choices)
    old_date = models.DateField(null=True, blank=True)
    old_time = models.TimeField(null=True, blank=True)
    new_date = models.DateField(null=True, blank=True)
    new_time = models.TimeField(null=True, blank=True)
    # [{"definition": id, "old_due": "YYYY-MM-DD", "new_due": "YYYY-MM-DD"}]: the open steps whose due day moved.
    steps = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.get_event_display()} for {self.patient} ({self.old_date} -> {self.new_date})"


class Reminder(models.Model):
    """One planned message: the outbox row for one (task, rule, channel, anchor date).

    The anchor date is part of the key: a reminder is sent at most once per task, rule,
    channel and date, whatever the workers do. A daily digest is a row without a task
    (rule "digest"), one per (patient, channel, digest day): its anchor date is the day.
    An announcement's rows have no task either: they are sent at most once per
    announcement and channel.
    """

    class Kind(models.TextChoices):
        TASK = "task", _("Step reminder")
        ANNOUNCEMENT = "announcement", _("Announcement")

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

    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.TASK)
    # Empty for a digest (about the patient's whole day) and for an announcement.
    task = models.ForeignKey(
        "checklists.Task", on_delete=models.CASCADE, related_name="reminders", null=True, blank=True
    )
    announcement = models.ForeignKey(
        Announcement, on_delete=models.CASCADE, null=True, blank=True, related_name="reminders"
    )
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="reminders")
    # Set for a message to one of the patient's caregivers (about the patient): it goes out on
    # the caregiver's own channels, at their hours, in their language (CaregiverSettings).
    caregiver = models.ForeignKey(
        CaregiverLink, on_delete=models.CASCADE, null=True, blank=True, related_name="reminders"
    )
    rule = models.CharField(max_length=40)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    # The task date the rule was computed from. Part of the unique key, so moving the
    # surgery plans fresh rows for the new dates while a row already sent for a date
    # can never be sent again, even if the surgery moves back to that date.
    anchor_date = models.DateField()
    send_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Claims whose lease ran out (the worker vanished, maybe after the channel had the
    # message): a later send on an external channel may then be the second one.
    lost_claims = models.PositiveSmallIntegerField(default=0)
    # The current claim's token: set by the sweeper's claim, replaced when a worker takes the
    # batch. Every status change a delivery makes is a compare-and-set on it.
    claimed_at = models.DateTimeField(null=True, blank=True)
    # While "sending": when the claim runs out unless renewed. A worker renews it while it
    # sends (a heartbeat); the sweeper acts on claims past it.
    lease_until = models.DateTimeField(null=True, blank=True)
    # The worker process ("host:pid") that took the row to send it; empty while the claimed
    # batch only waits in the broker (nothing can have been sent yet).
    holder = models.CharField(max_length=120, blank=True)
    # Its last attempt failed while the channel seemed down (no send after it in its batch):
    # retried at once when a send on the same channel succeeds again.
    waiting_for_channel = models.BooleanField(default=False)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    # An email planned because the push message did not reach the patient (the "push,
    # and email only when push did not reach me" policy): replanning leaves it alone.
    fallback = models.BooleanField(default=False)
    # When the patient opened it (a notification click, an email link, the inbox): the receipt.
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["send_at", "id"]
        constraints = [
            # At most one message per (task, rule, channel, anchor date), whatever the workers do.
            models.UniqueConstraint(
                fields=["task", "rule", "channel", "anchor_date"], condition=Q(caregiver__isnull=True),
                name="unique_reminder_per_task_rule_channel_date",
            ),
            # At most one digest per (patient, channel, day): planning twice, or two plannings
            # at once, cannot make a second one.
            models.UniqueConstraint(
                fields=["patient", "channel", "anchor_date"], condition=Q(rule=DIGEST_RULE, task__isnull=True),
                name="unique_digest_per_patient_channel_day",
            ),
            # At most one check-in or evening-before reminder per (patient, rule, channel, day).
            models.UniqueConstraint(
                fields=["patient", "rule", "channel", "anchor_date"],
                condition=Q(rule__in=PATIENT_RULES, task__isnull=True, caregiver__isnull=True),
                name="unique_patient_rule_reminder_per_channel_day",
            ),
            # A caregiver's: at most one per (caregiver link, rule, channel, day), and for an
            # overdue step one per (caregiver link, step, channel, due date).
            models.UniqueConstraint(
                fields=["caregiver", "rule", "channel", "anchor_date"],
                condition=Q(caregiver__isnull=False, task__isnull=True),
                name="unique_caregiver_reminder_per_rule_channel_day",
            ),
            models.UniqueConstraint(
                fields=["caregiver", "task", "rule", "channel", "anchor_date"],
                condition=Q(caregiver__isnull=False, task__isnull=False),
                name="unique_caregiver_reminder_per_task_channel_day",
            ),
            # At most one message per announcement and channel.
            models.UniqueConstraint(
                fields=["announcement", "channel"], condition=Q(announcement__isnull=False),
                name="unique_reminder_per_announcement_channel",
            ),
        ]
        indexes = [
            # The sweeper's query: status='pending' AND send_at <= now ORDER BY send_at.
            # Partial, so its size follows the pending rows, not the whole history.
            models.Index(fields=["send_at"], condition=Q(status="pending"), name="reminder_pending_due_idx"),
            # Claims past their lease: status='sending' AND lease_until < now.
            models.Index(fields=["lease_until"], condition=Q(status="sending"), name="reminder_sending_lease_idx"),
            # Retrying what waited for a channel to come back: status='pending' AND waiting AND channel=?.
            models.Index(
                fields=["channel"], condition=Q(status="pending", waiting_for_channel=True),
                name="reminder_waiting_channel_idx",
            ),
            # The delivery log's counts and the roster's failed deliveries: patient_id=? AND status=?.
            models.Index(fields=["patient", "status"], name="reminder_patient_status_idx"),
        ]

    def __str__(self):
        if self.is_digest:
            return f"{self.get_channel_display()} digest for {self.anchor_date} at {self.send_at:%Y-%m-%d %H:%M}Z"
        subject = f"task {self.task_id}" if self.task_id else f"announcement {self.announcement_id}"
        return f"{self.get_channel_display()} reminder {self.rule} for {subject} at {self.send_at:%Y-%m-%d %H:%M}Z"

    @property
    def is_digest(self) -> bool:
        return self.task_id is None and self.rule == DIGEST_RULE

    @property
    def for_family(self) -> bool:
        """A message to a caregiver about the patient, not to the patient."""
        return self.caregiver_id is not None


class DeliveryAttempt(models.Model):
    """What happened when one reminder was handed to its channel: the delivery log."""

    class Outcome(models.TextChoices):
        SENT = "sent", _("Sent")
        RETRY = "retry", _("Will retry")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped")
        # Push did not reach the patient: an email was planned in its place.
        FALLBACK = "fallback", _("Email sent instead")

    reminder = models.ForeignKey(Reminder, on_delete=models.CASCADE, related_name="delivery_attempts")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="delivery_attempts")
    channel = models.CharField(max_length=10, choices=Reminder.Channel.choices)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    detail = models.TextField(blank=True)
    # Sent on an external channel after an earlier claim of the reminder was lost: the
    # lost attempt may have been delivered too, so the patient may have it twice.
    possible_duplicate = models.BooleanField(default=False)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        # The delivery log, newest first: patient_id=? ORDER BY at DESC.
        indexes = [models.Index(fields=["patient", "-at"], name="delivery_patient_at_idx")]

    # The columns of a log entry, in the order of `row_for`'s tuple.
    ROW_FIELDS = ("reminder_id", "patient_id", "channel", "outcome", "detail", "possible_duplicate", "at")

    @staticmethod
    def row_for(reminder: "Reminder", *, outcome: str, detail: str, at, possible_duplicate: bool = False) -> tuple:
        """The log entry for one reminder's outcome, as a plain row (ROW_FIELDS) for `insert_rows`."""
        return (reminder.id, reminder.patient_id, reminder.channel, outcome, detail[:2000], possible_duplicate, at)

    @classmethod
    def for_reminder(
        cls, reminder: "Reminder", *, outcome: str, detail: str, at, possible_duplicate: bool = False
    ) -> "DeliveryAttempt":
        """The log entry for one reminder's outcome (unsaved: callers write entries in bulk)."""
        row = cls.row_for(reminder, outcome=outcome, detail=detail, at=at, possible_duplicate=possible_duplicate)
        return cls(**dict(zip(cls.ROW_FIELDS, row)))


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


class FamilyMessage(models.Model):
    """A message to a caregiver about the patient they follow, as their own inbox shows it.

    Apart from the patient's inbox: the patient never sees what was said to the family, and a
    caregiver's link (not the patient's record) is who it belongs to.
    """

    caregiver = models.ForeignKey(CaregiverLink, on_delete=models.CASCADE, related_name="family_messages")
    reminder = models.OneToOneField(Reminder, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="family_message")
    title = models.CharField(max_length=200)
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.title


class CaregiverPushSubscription(models.Model):
    """A caregiver's own browser (their phone) subscribed to Web Push: every patient they follow uses it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="caregiver_push")
    endpoint = models.URLField(max_length=1000, unique=True)
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=100)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_success_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"push for caregiver account {self.user_id}"


class Alert(models.Model):
    """Something the care team must act on, shown until acknowledged.

    - an overdue step: a critical step overdue long enough; raised at most once per task and
      due date (moving the surgery gives the step a new due date, and a new alert if that one
      is missed too);
    - a check-in red flag: a check-in whose answers match a warning sign; one per check-in;
    - a missed check-in (soft): a check-in day passed without one; once per case and day.
    """

    class Kind(models.TextChoices):
        OVERDUE_STEP = "overdue_step", _("Critical step overdue")
        CHECK_IN_RED_FLAG = "check_in_red_flag", _("Warning sign in a check-in")
        CHECK_IN_MISSED = "check_in_missed", _("Check-in missed")

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="alerts")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.OVERDUE_STEP)
    task = models.ForeignKey("checklists.Task", on_delete=models.CASCADE, related_name="alerts", null=True, blank=True)
    case = models.ForeignKey("prepapp.SurgeryCase", on_delete=models.CASCADE, related_name="+", null=True, blank=True)
    check_in = models.ForeignKey(
        "checklists.CheckIn", on_delete=models.CASCADE, related_name="alerts", null=True, blank=True
    )
    # Days after surgery of the check-in (made or missed); empty for an overdue step.
    check_in_day = models.PositiveSmallIntegerField(null=True, blank=True)
    due_date = models.DateField(help_text="The step's due date, or the check-in's day, when the alert was raised.")
    days_overdue = models.PositiveSmallIntegerField(default=0)
    raised_at = models.DateTimeField(default=timezone.now)
    # When the immediate email about a red flag went to the care team (compare-and-set: once).
    emailed_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-raised_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["task", "due_date"], condition=Q(kind="overdue_step"), name="unique_alert_per_task_due_date"
            ),
            models.UniqueConstraint(
                fields=["case", "check_in_day"], condition=Q(kind="check_in_missed"),
                name="unique_missed_check_in_alert_per_case_day",
            ),
            models.CheckConstraint(
                condition=~Q(kind="overdue_step") | Q(task__isnull=False), name="overdue_step_alert_has_task"
            ),
        ]
        indexes = [
            # The roster's and the morning email's open alerts: organization_id=? AND acknowledged_at IS NULL.
            models.Index(fields=["organization"], condition=Q(acknowledged_at__isnull=True), name="alert_open_idx"),
        ]

    def __str__(self):
        if self.kind == self.Kind.OVERDUE_STEP:
            return f"alert: task {self.task_id} of {self.patient} overdue since {self.due_date}"
        return f"alert: {self.get_kind_display().lower()} of {self.patient}, day {self.check_in_day}"

    @property
    def is_open(self) -> bool:
        return self.acknowledged_at is None

    @property
    def title(self) -> str:
        """What the alert is about, in a few words (the step's title for an overdue step)."""
        if self.task_id is not None:
            return self.task.definition.title
        return f"{self.get_kind_display()} (day {self.check_in_day})"


class AlertEmail(models.Model):
    """One coordinator's morning email of open alerts for one organization and day.

    The row is the idempotency key: any number of beat ticks or workers may try, the one
    that moves it from pending to sending (compare-and-set) sends it, and it is sent once.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    day = models.DateField(help_text="The organization's calendar day the email is for.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    alerts = models.PositiveIntegerField(default=0, help_text="How many open alerts the email listed.")
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-day", "id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "organization", "day"], name="unique_alert_email_per_user_org_day")
        ]

    def __str__(self):
        return f"alert email to {self.user} for {self.organization} on {self.day} ({self.status})"
