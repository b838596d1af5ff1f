"""What the safety net at home records for one surgery: rules the care team lifted, and check-ins.

Kept apart from `models` (protocols and checklists) for size; `checklists.models` imports
these so Django finds them in the checklists app.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class RuleLift(models.Model):
    """The care team lifted a rule kept "until lifted" (e.g. the surgeon allows driving again)."""

    case = models.ForeignKey("prepapp.SurgeryCase", on_delete=models.CASCADE, related_name="rule_lifts")
    rule_key = models.SlugField(max_length=80)
    lifted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    lifted_at = models.DateTimeField(default=timezone.now)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["case", "rule_key"]
        constraints = [models.UniqueConstraint(fields=["case", "rule_key"], name="unique_rule_lift_per_case")]

    def __str__(self):
        return f"{self.rule_key} lifted for case {self.case_id}"


class CheckIn(models.Model):
    """One check-in at home after surgery: the answers and what they mean.

    Several a day are allowed: a patient is never kept from reporting a new warning sign.
    """

    class Urgency(models.TextChoices):
        EMERGENCY = "emergency", _("Call emergency services now")
        CALL_TODAY = "call_today", _("Call the care team today")
        NONE = "none", _("Nothing urgent")

    case = models.ForeignKey("prepapp.SurgeryCase", on_delete=models.CASCADE, related_name="check_ins")
    patient = models.ForeignKey("prepapp.Patient", on_delete=models.CASCADE, related_name="check_ins")
    day = models.PositiveSmallIntegerField(help_text="Days after surgery, on the patient's calendar.")
    answered_at = models.DateTimeField(default=timezone.now)
    answers = models.JSONField(default=dict)
    # The warning signs' keys the answers match, most urgent first.
    red_flags = models.JSONField(default=list, blank=True)
    urgency = models.CharField(max_length=12, choices=Urgency.choices, default=Urgency.NONE)

    class Meta:
        ordering = ["-answered_at", "-id"]
        indexes = [models.Index(fields=["case", "day"], name="check_in_case_day_idx")]

    def __str__(self):
        return f"check-in day {self.day} of {self.patient_id} ({self.urgency})"
