"""A patient's private calendar address (the feed a phone's calendar subscribes to).

Kept apart from prepapp.models (which imports this module, so Django finds the model), and
naming the patient by its app label only, so the two modules do not import each other.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class CalendarFeed(models.Model):
    """A private calendar address a phone subscribes to: whose dates it shows, and for whom it was made.

    `owner` is the person who subscribes: the patient today; a caregiver who follows the
    patient can be given a feed of their own, which the patient can end without touching
    theirs. Only the SHA-256 of the secret in the address is kept: the address is shown once,
    when it is made. Making a new one (prepapp.services.calendar_feed_renew) replaces the
    secret, so the old address answers 404 from then on.
    """

    class Detail(models.TextChoices):
        # The steps' titles ("Stop anti-inflammatory painkillers"), the surgery and the rules' ends.
        TITLES = "titles", _("Step titles")
        # Every event says only "Surgery preparation step": nothing about health on a shared calendar.
        PRIVATE = "private", _("Only “Surgery preparation step”")

    patient = models.ForeignKey("prepapp.Patient", on_delete=models.CASCADE, related_name="calendar_feeds")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feeds")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    detail = models.CharField(max_length=10, choices=Detail.choices, default=Detail.TITLES)
    created_at = models.DateTimeField(default=timezone.now)
    last_fetched_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        constraints = [
            # One address per person and patient: a new one replaces the old.
            models.UniqueConstraint(fields=["patient", "owner"], name="one_calendar_feed_per_owner"),
        ]

    def __str__(self):
        return f"calendar feed of {self.patient} for {self.owner}"
