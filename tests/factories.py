"""factory_boy factories for the people and records the tests use."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from prepapp.models import Organization, StaffMembership


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("correct horse battery")


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"Clinic {n}")
    slug = factory.Sequence(lambda n: f"clinic-{n}")


class StaffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StaffMembership

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)
    role = StaffMembership.Role.COORDINATOR


# Where pat, the patient most tests follow, lives. The app counts days from each patient's own
# today; counting from UTC's instead made tests fail in the American evening, when New York is
# still a day behind.
TEST_PATIENTS_ZONE = ZoneInfo("America/New_York")


def days_from_today(days: int, *, patient=None):
    """A date `days` after today where the patient lives (by default, where pat lives)."""
    today = patient.local_today() if patient is not None else timezone.localdate(timezone=TEST_PATIENTS_ZONE)
    return today + timedelta(days=days)
