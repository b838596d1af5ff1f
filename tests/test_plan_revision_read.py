"""The checklist's validator takes the plan revision from the user's own query only when that is safe.

A request whose authentication read the patient record from the database after the request
began (the session's user, or a token's) has the revision as current as a second query would
give it, and the validator takes it from there: no query of its own. Any other patient object
(handed in by a test client, read in an earlier request, copied through pickle) is never
trusted, and neither is a request that writes: the revision is read again. Each test makes the
plan change behind the object's back, so a stale revision would show as a 304 to a stale copy.
"""

import pickle

import pytest
from django.test import RequestFactory
from rest_framework.test import APIClient

from checklists.models import Task
from prepapp.authentication import SessionUserBackend, note_request_began, read_in_this_request
from prepapp.selectors import plan_revision_of
from prepapp.workflows import case_book, checklist_assign

from .support.fixtures import signed_in_phone

pytestmark = pytest.mark.django_db

CHECKLIST = "/api/v1/me/checklist/"
STATE = "/api/v1/me/checklist/state/"


@pytest.fixture(autouse=True)
def _cold_caches(cold_payload_caches):
    """Every test here starts with nothing kept."""


def change_the_plan(patient) -> None:
    """A write no Python object sees (a bulk UPDATE): the database's triggers move the revision."""
    Task.objects.filter(checklist__case__patient=patient).update(note="Changed behind the phone's back")


def current_revision(patient) -> int:
    return type(patient).objects.values_list("plan_revision", flat=True).get(pk=patient.pk)


def test_the_users_own_record_read_in_the_request_gives_the_revision(pat, pat_checklist):
    request = RequestFactory().get(STATE)
    note_request_began(request)
    user = SessionUserBackend().get_user(pat.user.pk)
    assert read_in_this_request(user.patient, request)
    change_the_plan(pat)
    # Taken from the record read in this request (the change came after that read, as if it
    # committed while this request ran: the body, read later, carries it; the next request sees it).
    assert plan_revision_of(user.patient, request=request) == user.patient.plan_revision
    assert user.patient.plan_revision != current_revision(pat)


def test_a_record_read_before_the_request_began_is_read_again(pat, pat_checklist):
    user = SessionUserBackend().get_user(pat.user.pk)
    change_the_plan(pat)
    request = RequestFactory().get(STATE)
    note_request_began(request)
    assert not read_in_this_request(user.patient, request)
    assert plan_revision_of(user.patient, request=request) == current_revision(pat) != user.patient.plan_revision


def test_a_copied_record_and_an_unnoted_request_are_read_again(pat, pat_checklist):
    request = RequestFactory().get(STATE)
    note_request_began(request)
    user = SessionUserBackend().get_user(pat.user.pk)
    copy = pickle.loads(pickle.dumps(user))  # noqa: S301 (our own object, made just above)
    change_the_plan(pat)
    assert not read_in_this_request(copy.patient, request)
    assert plan_revision_of(copy.patient, request=request) == current_revision(pat)
    unnoted = RequestFactory().get(STATE)
    assert not read_in_this_request(user.patient, unnoted)
    assert plan_revision_of(user.patient, request=unnoted) == current_revision(pat)
    assert plan_revision_of(user.patient) == current_revision(pat)


def test_a_request_that_writes_reads_the_revision_again(pat, pat_checklist):
    request = RequestFactory().post(STATE)
    note_request_began(request)
    user = SessionUserBackend().get_user(pat.user.pk)
    assert read_in_this_request(user.patient, request)
    change_the_plan(pat)
    assert plan_revision_of(user.patient, request=request) == current_revision(pat) != user.patient.plan_revision


@pytest.mark.parametrize("path", [CHECKLIST, STATE])
def test_a_phone_revalidates_with_the_users_query_alone_and_sees_every_change(
    pat, pat_checklist, path, django_assert_num_queries
):
    phone = signed_in_phone(pat)
    etag = phone.get(path)["ETag"]
    with django_assert_num_queries(1):  # the session from the cache; its user, with the revision
        assert phone.get(path, HTTP_IF_NONE_MATCH=etag).status_code == 304
    change_the_plan(pat)
    response = phone.get(path, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200 and response["ETag"] != etag


@pytest.mark.parametrize("path", [CHECKLIST, STATE])
def test_a_user_object_from_before_the_change_never_gets_a_stale_304(pat, pat_checklist, path):
    """A client that hands the view a user it read earlier (DRF's forced authentication, as a
    cache of users would): that record's revision is old, and the view must not believe it."""
    phone = signed_in_phone(pat)
    etag = phone.get(path)["ETag"]
    earlier = SessionUserBackend().get_user(pat.user.pk)  # read (and noted) before the change
    change_the_plan(pat)
    client = APIClient()
    client.force_authenticate(earlier)
    response = client.get(path, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200 and response["ETag"] != etag
    assert response["ETag"] == phone.get(path)["ETag"]


@pytest.mark.parametrize("path", [CHECKLIST, STATE])
def test_another_patients_phone_never_gets_a_304_for_pats_copy(pat, paul, pat_checklist, protocol_version, carol, path):
    case = case_book(patient=paul, procedure="Lumbar fusion", surgery_date=pat_checklist.case.surgery_date)
    checklist_assign(case=case, protocol_version=protocol_version, assigned_by=carol)
    pats = signed_in_phone(pat).get(path)["ETag"]
    response = signed_in_phone(paul).get(path, HTTP_IF_NONE_MATCH=pats)
    assert response.status_code == 200 and response["ETag"] != pats
