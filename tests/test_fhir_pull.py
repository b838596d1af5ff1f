"""Pull mode: the service polls a hospital's FHIR server (a local stand-in) and imports its schedule.

The stand-in (tests/support/fhir_server.py) is a real HTTP server on loopback that pages its
search results, honours `_lastUpdated`, includes the patients, checks the bearer token, and
stamps `meta.lastUpdated` on a clock two hours behind this machine's: a poll that took its
watermark from its own clock would miss every change after the first poll.
"""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from checklists.models import Checklist
from config.celery import app
from prepapp.fhir import pull
from prepapp.fhir.models import AppointmentLink, FhirSource, PatientIdentifier, ProcedureMapping
from prepapp.fhir.services import fhir_source_add
from prepapp.lib.sealed import unseal
from prepapp.models import AuditEntry, Patient, SurgeryCase
from prepapp.reminders.models import Announcement, Reminder

from . import fhir_bundles as fb
from .support.fhir_server import FhirServer
from .support.processes import wait_until
from .support.stack import Stack, redis_url_from_env

pytestmark = pytest.mark.django_db
TOKEN = "riverside-bearer-token-0123456789"
SERVER_CLOCK = timedelta(hours=-2)


def in_days(n: int):
    return timezone.now().date() + timedelta(days=n)


@pytest.fixture(autouse=True)
def pull_settings(settings):
    settings.FHIR_PULL_ALLOW_HTTP = True  # the stand-in listens on plain http, on loopback
    settings.FHIR_PULL_OVERLAP_SECONDS = 0  # so that a second poll asks for exactly what changed since
    settings.FHIR_PULL_PAGE_SIZE = 7
    settings.FHIR_PULL_TIMEOUT_SECONDS = 5


@pytest.fixture
def mapping(riverside, protocol_version):
    return ProcedureMapping.objects.create(organization=riverside, system=fb.SNOMED, code=fb.FUSION_CODE,
                                           display="Lumbar fusion", protocol=protocol_version.protocol)


@pytest.fixture
def ehr():
    server = FhirServer(token=TOKEN, clock_offset=SERVER_CLOCK).start()
    yield server
    server.stop()


@pytest.fixture
def source(riverside, mapping, ehr):
    return fhir_source_add(organization=riverside, name="Riverside EHR", base_url=ehr.base_url, token=TOKEN)


def put(server, numbers, *, on=None, at=time(8, 30), status="booked", code=fb.FUSION_CODE):
    for n in numbers:
        server.put(fb.patient(n, family=f"Chalmers{n}"),
                   fb.appointment(n, on=on or in_days(30 + n % 20), at=at, status=status, code=code,
                                  patient_ref=f"Patient/pat{n}"))


def poll(source):
    result = pull.source_poll(source_id=source.pk)
    source.refresh_from_db()
    return result


def rows():
    return (Patient.objects.count(), SurgeryCase.objects.count(), Checklist.objects.count(),
            Reminder.objects.count(), Announcement.objects.count(), AuditEntry.objects.count(),
            PatientIdentifier.objects.count())


def test_a_poll_enrols_and_books_every_page_and_a_second_poll_changes_nothing(source, ehr, riverside):
    put(ehr, range(20))

    first = poll(source)

    assert first.ok, first.error
    assert (first.appointments, first.patients, first.created, first.changed) == (20, 20, 40, 0)
    # 20 appointments, 7 a page: three pages, followed by their next links.
    assert len(ehr.searches()) == 3
    asked = ehr.searches()[0]
    assert asked["date"] == [f"ge{timezone.localdate().isoformat()}"]
    assert asked["_include"] == ["Appointment:patient"] and "_lastUpdated" not in asked
    assert Patient.objects.filter(organization=riverside).count() == 20
    assert SurgeryCase.objects.filter(patient__organization=riverside, status="scheduled").count() == 20
    assert Checklist.objects.filter(case__patient__organization=riverside).count() == 20
    assert PatientIdentifier.objects.filter(organization=riverside).count() == 40
    # The watermark is the server's own time of the search, not this machine's.
    assert source.watermark == parse_datetime(ehr.search_times[0])
    assert source.watermark < timezone.now() - timedelta(hours=1)
    assert (source.last_appointments, source.last_created, source.last_error) == (20, 40, "")
    # The audit trail names the source, as it names a coordinator.
    assert AuditEntry.objects.filter(actor=source.user, action="book").count() == 20
    before = rows()

    second = poll(source)

    assert second.ok and (second.appointments, second.created, second.changed) == (0, 0, 0)
    assert ehr.searches()[-1]["_lastUpdated"] == [f"gt{ehr.search_times[0]}"]
    assert rows() == before
    assert source.watermark == parse_datetime(ehr.search_times[-1])


def test_a_move_a_cancellation_and_a_fulfilled_surgery_reach_the_records_and_the_patients_are_told(source, ehr):
    today = timezone.localdate()
    put(ehr, [1, 2])
    put(ehr, [3], on=today, at=time(20, 0))
    assert poll(source).ok
    new_day = in_days(60)

    put(ehr, [1], on=new_day)  # the same appointment, a new start, a newer lastUpdated
    put(ehr, [2], status="cancelled")
    put(ehr, [3], on=today, at=time(20, 0), status="fulfilled")
    result = poll(source)

    assert result.ok, result.error
    assert (result.appointments, result.created, result.changed) == (3, 0, 3)
    moved = AppointmentLink.objects.get(value="OR-00001").case
    cancelled = AppointmentLink.objects.get(value="OR-00002").case
    done = AppointmentLink.objects.get(value="OR-00003").case
    assert (moved.surgery_date, moved.status) == (new_day, "scheduled")
    assert cancelled.status == "cancelled"
    assert done.status == "done"
    told = Announcement.objects.get(patient=moved.patient, event=Announcement.Event.MOVED)
    assert told.new_date == new_day and Reminder.objects.filter(announcement=told).exists()
    assert Announcement.objects.filter(patient=cancelled.patient, event=Announcement.Event.CANCELLED).exists()
    assert AuditEntry.objects.filter(actor=source.user, action="reschedule").count() == 1


def test_a_server_that_is_down_leaves_the_watermark_and_the_next_poll_catches_up(source, ehr):
    put(ehr, range(5))
    assert poll(source).ok
    watermark = source.watermark

    ehr.go_down()
    put(ehr, [2], on=in_days(70))  # changed at the hospital meanwhile
    failed = poll(source)

    assert not failed.ok and "could not reach the server" in failed.error
    assert source.watermark == watermark
    assert source.last_error == failed.error and source.last_error_at is not None
    assert source.claimed_until is None  # let go: the next tick may poll again
    assert AppointmentLink.objects.get(value="OR-00002").case.surgery_date != in_days(70)

    ehr.come_back()
    caught_up = poll(source)

    assert caught_up.ok and caught_up.changed == 1
    assert AppointmentLink.objects.get(value="OR-00002").case.surgery_date == in_days(70)
    assert source.watermark > watermark
    assert source.last_success_at > source.last_error_at


@pytest.mark.parametrize("failure, words", [
    (lambda server: server.answer(500), "the server answered an error: answer 500"),
    (lambda server: server.answer(503, "<html>upstream down</html>"), "the server answered an error"),
    (lambda server: server.answer_not_json(), "could not be read"),
])
def test_an_error_answer_writes_nothing_and_the_next_poll_retries(source, ehr, failure, words):
    put(ehr, range(3))
    failure(ehr)

    result = poll(source)

    assert not result.ok and words in result.error
    assert rows()[:3] == (0, 0, 0)
    assert source.watermark is None and words in source.last_error
    ehr.recover()
    assert poll(source).ok
    assert Patient.objects.count() == 3


def test_a_bad_entry_refuses_the_whole_poll_naming_it_and_a_corrected_one_goes_through(source, ehr):
    put(ehr, range(6))
    put(ehr, [4], code="12345")  # a procedure no protocol is mapped to

    refused = poll(source)

    assert not refused.ok
    assert refused.error.startswith("Appointment/appt4 (serviceType): ") and "12345" in refused.error
    # The five good ones were undone with it: nothing half-way.
    assert rows()[:3] == (0, 0, 0) and source.watermark is None
    # Not valid FHIR at all: fhir.resources refuses it, and the answer names the element.
    broken = dict(ehr.resources[("Appointment", "appt4")], minutesDuration="three hours")
    ehr.resources[("Appointment", "appt4")] = broken
    invalid = poll(source)
    assert invalid.error.startswith("Appointment/appt4 (minutesDuration): ")

    put(ehr, [4])
    fixed = poll(source)

    assert fixed.ok and fixed.appointments == 6
    assert SurgeryCase.objects.count() == 6


def test_patients_the_server_does_not_include_are_read_one_by_one(riverside, mapping):
    server = FhirServer(token=TOKEN, answers_include=False).start()
    try:
        source = fhir_source_add(organization=riverside, name="Plain EHR", base_url=server.base_url, token=TOKEN)
        put(server, range(3))
        assert poll(source).ok
        assert sorted(p for p, _ in server.requests if "/Patient/" in p) == [f"/fhir/Patient/pat{n}" for n in range(3)]
        assert Patient.objects.filter(organization=riverside).count() == 3
    finally:
        server.stop()


def test_a_wrong_token_is_an_error_and_the_token_is_kept_sealed(source, ehr):
    assert TOKEN not in source.sealed_token and unseal(source.sealed_token) == TOKEN
    FhirSource.objects.filter(pk=source.pk).update(sealed_token="")
    put(ehr, [1])
    result = poll(source)
    assert "401" in result.error and "token" in result.error
    assert Patient.objects.count() == 0


def test_a_source_held_by_another_poll_is_not_polled_twice(source, ehr):
    put(ehr, [1])
    now = timezone.now()
    assert pull._claim(source.pk, now) is not None  # another tick's poll is under way
    assert pull.source_poll(source_id=source.pk) is None
    assert pull.sources_to_poll() == []
    assert ehr.requests == [] and Patient.objects.count() == 0
    # A poll whose worker died lets go when its lease runs out.
    FhirSource.objects.filter(pk=source.pk).update(claimed_until=now - timedelta(seconds=1))
    assert pull.sources_to_poll() == [source.pk]
    assert poll(source).ok and Patient.objects.count() == 1


def test_a_disabled_source_is_not_polled(source, ehr):
    FhirSource.objects.filter(pk=source.pk).update(enabled=False)
    assert pull.sources_to_poll() == [] and pull.source_poll(source_id=source.pk) is None
    assert ehr.requests == []


def test_one_organizations_source_never_writes_into_another(source, ehr, riverside, elsewhere, protocol_version, pat):
    ProcedureMapping.objects.create(organization=elsewhere, system=fb.SNOMED, code=fb.FUSION_CODE,
                                    protocol=protocol_version.protocol)
    other = FhirServer(token="elsewhere-token").start()
    try:
        theirs = fhir_source_add(organization=elsewhere, name="Elsewhere EHR", base_url=other.base_url,
                                 token="elsewhere-token")
        put(ehr, range(3))
        put(other, range(3))  # the same MRNs at another clinic's hospital
        assert poll(source).ok and poll(theirs).ok
        assert Patient.objects.filter(organization=riverside).exclude(pk=pat.pk).count() == 3
        assert Patient.objects.filter(organization=elsewhere).count() == 3
        assert not AuditEntry.objects.filter(actor=theirs.user, patient__organization=riverside).exists()
        # The hospital's Patient/<n> is its own id, never this service's: an appointment for a patient the
        # server cannot give is refused, even when n is the id of one of the organization's patients here.
        other.put(fb.appointment(9, on=in_days(40), patient_ref=f"Patient/{pat.pk}"))
        refused = poll(theirs)
        assert not refused.ok and "404" in refused.error
        assert not SurgeryCase.objects.filter(patient=pat).exists()
    finally:
        other.stop()


def test_the_beat_schedule_polls_the_sources():

    app.loader.import_default_modules()
    entry = app.conf.beat_schedule["poll-fhir-sources"]
    assert entry["task"] == "prepapp.tasks.poll_fhir_sources" and entry["task"] in app.tasks
    assert float(entry["schedule"]) <= 600
    # A poll runs within its own limits, and holds its source for longer: a killed one lets go, a live one never.
    task = app.tasks["prepapp.tasks.poll_fhir_source"]
    assert task.soft_time_limit < task.time_limit < django_settings.FHIR_PULL_LEASE_SECONDS


@pytest.mark.django_db(transaction=True)
@pytest.mark.integration
def test_beat_and_a_worker_poll_the_source_and_pick_up_a_change(riverside, mapping, ehr, tmp_path):
    """The operator's `celery beat` and `celery worker`, ticking every second, against the stand-in."""
    source = fhir_source_add(organization=riverside, name="Riverside EHR", base_url=ehr.base_url, token=TOKEN)
    put(ehr, range(5))
    stack = Stack(tmp_path, redis_url=redis_url_from_env(), FHIR_PULL_SECONDS=1, FHIR_PULL_ALLOW_HTTP="true",
                  FHIR_PULL_OVERLAP_SECONDS=0)
    try:
        stack.worker()
        stack.beat()
        wait_until(lambda: SurgeryCase.objects.filter(patient__organization=riverside).count() == 5, timeout=60,
                   what="the first poll to book the five surgeries")
        put(ehr, [2], on=in_days(70))
        wait_until(lambda: AppointmentLink.objects.get(value="OR-00002").case.surgery_date == in_days(70),
                   timeout=60, what="a later poll to move the surgery")
        polls = len(ehr.searches())
        wait_until(lambda: len(ehr.searches()) > polls + 1, timeout=30, what="beat to go on polling")
    except AssertionError:
        print(stack.logs())
        raise
    finally:
        stack.stop()
    source.refresh_from_db()
    # Every poll went through, and the watermark is one of the server's own search times.
    assert source.last_error == "" and source.last_error_at is None
    assert source.watermark in {parse_datetime(t) for t in ehr.search_times[1:]}
    assert Patient.objects.filter(organization=riverside).count() == 5
    assert Announcement.objects.filter(event=Announcement.Event.MOVED).count() == 1


def test_a_token_sealed_under_a_retired_key_opens_only_while_that_key_is_a_fallback(source, ehr, settings):
    put(ehr, [1])
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY = "a-new-key-" + "x" * 50
    settings.SECRET_KEY_FALLBACKS = [old_key]
    assert unseal(FhirSource.objects.get(pk=source.pk).sealed_token) == TOKEN
    assert poll(source).ok

    settings.SECRET_KEY_FALLBACKS = []
    put(ehr, [2])
    broken = poll(source)
    assert "cannot be opened" in broken.error and Patient.objects.count() == 1


def test_a_next_link_to_another_address_is_not_followed(source, ehr):
    put(ehr, range(10))  # two pages
    ehr.next_links_to = "http://127.0.0.1:9/elsewhere/fhir"
    result = poll(source)
    assert "next link points outside" in result.error
    assert len(ehr.searches()) == 1 and Patient.objects.count() == 0 and source.watermark is None
