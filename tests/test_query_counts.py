"""The patient's reads take a fixed, small number of queries, however many steps or messages there are.

Counted as the phone signs in (a session restored with its patient in one query) and as an API
client with a token. Each count is pinned: a change that adds a query per step, or per request,
fails here.
"""

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from checklists.models import Task
from prepapp.lib.response_cache import forget_kept_bodies
from prepapp.reminders import planning
from prepapp.reminders.models import InboxMessage

from .support.fixtures import signed_in_phone

pytestmark = pytest.mark.django_db

# A signed-in request: the session from the cache, then its user with their patient record and
# session generation in one query.
SIGNED_IN = 1


@pytest.fixture(autouse=True)
def _cold_caches(cold_payload_caches):
    """Every test here starts with nothing kept."""


@pytest.fixture
def pat_phone(pat):
    """pat's phone, signed in the way the app signs her in."""
    return signed_in_phone(pat)


def grow(checklist, times: int) -> int:
    """Give the checklist `times` more copies of every step of its version (each a step of its own)."""
    definitions = list(checklist.protocol_version.definitions.all())
    extra = []
    for i in range(times):
        for d in definitions:
            d.pk = None
            d.key = f"{d.key}-{i}"
            d.position += 100 * (i + 1)
            d.save()
            extra.append(Task(checklist=checklist, definition=d, due_date=checklist.case.surgery_date))
    Task.objects.bulk_create(extra)
    return len(extra)


def test_checklist_read_is_pinned_and_flat(pat_phone, pat_checklist, django_assert_num_queries):
    first = pat_phone.get("/api/v1/me/checklist/")  # reads the protocol version's steps once
    assert first.status_code == 200
    few = first.json()["counts"]["total"]
    # Unchanged since the last read: the answer rendered then, sent again (the plan revision came
    # with the user's query: prepapp.selectors.plan_revision_of).
    with django_assert_num_queries(SIGNED_IN):
        again = pat_phone.get("/api/v1/me/checklist/")
    assert again.status_code == 200 and again.content == first.content
    total = few + grow(pat_checklist, 3)
    assert total > 3 * few
    assert pat_phone.get("/api/v1/me/checklist/").json()["counts"]["total"] == total
    # Rendered anew (nothing kept): the checklist with its case and version, then the tasks, however many.
    forget_kept_bodies()
    with django_assert_num_queries(SIGNED_IN + 2):
        response = pat_phone.get("/api/v1/me/checklist/")
    assert response.json()["counts"]["total"] == total


def test_an_unchanged_checklist_is_revalidated_with_the_users_query_alone(
    pat_phone, pat_checklist, django_assert_num_queries
):
    etag = pat_phone.get("/api/v1/me/checklist/")["ETag"]
    with django_assert_num_queries(SIGNED_IN):
        response = pat_phone.get("/api/v1/me/checklist/", HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304 and response.content == b""
    grow(pat_checklist, 2)
    fresh = pat_phone.get("/api/v1/me/checklist/", HTTP_IF_NONE_MATCH=etag)
    assert fresh.status_code == 200 and fresh["ETag"] != etag
    with django_assert_num_queries(SIGNED_IN):
        assert pat_phone.get("/api/v1/me/checklist/", HTTP_IF_NONE_MATCH=fresh["ETag"]).status_code == 304


def test_a_token_finds_its_patient_in_the_same_query(pat, pat_checklist, django_assert_num_queries):
    token = Token.objects.create(user=pat.user)
    client = Client(HTTP_AUTHORIZATION=f"Token {token.key}")
    client.get("/api/v1/me/checklist/")
    forget_kept_bodies()
    # The token with its user and patient (the plan revision with them); the checklist, its tasks.
    with django_assert_num_queries(1 + 2):
        assert client.get("/api/v1/me/checklist/").status_code == 200
    with django_assert_num_queries(1):  # unchanged: the answer rendered just now
        assert client.get("/api/v1/me/checklist/").status_code == 200


def test_inbox_read_is_pinned_and_flat(pat, pat_phone, pat_checklist, django_assert_num_queries):
    tasks = list(pat_checklist.tasks.all())
    InboxMessage.objects.bulk_create(InboxMessage(patient=pat, task=t, title="Reminder", body="Body") for t in tasks[:2])
    # The stamps of the inbox, then the page's count and rows.
    with django_assert_num_queries(SIGNED_IN + 3):
        assert pat_phone.get("/api/v1/me/inbox/").json()["count"] == 2
    InboxMessage.objects.bulk_create(InboxMessage(patient=pat, task=t, title="Reminder", body="Body") for t in tasks)
    with django_assert_num_queries(SIGNED_IN + 3):
        response = pat_phone.get("/api/v1/me/inbox/")
    assert response.json()["count"] == 2 + len(tasks)
    with django_assert_num_queries(SIGNED_IN + 1):
        assert pat_phone.get("/api/v1/me/inbox/", HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304


def test_case_and_profile_reads_are_pinned(pat_phone, pat_checklist, django_assert_num_queries):
    with django_assert_num_queries(SIGNED_IN + 1):
        assert pat_phone.get("/api/v1/me/case/").status_code == 200
    with django_assert_num_queries(SIGNED_IN):
        assert pat_phone.get("/api/v1/me/").status_code == 200


def count_queries(fn) -> int:
    from django.db import connection

    statements = []

    def record(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        fn()
    return len(statements)


def test_staff_checklist_read_does_not_grow_with_the_steps(as_carol, pat_checklist, django_assert_num_queries):
    path = f"/api/v1/cases/{pat_checklist.case_id}/checklist/"
    as_carol.get(path)
    few = count_queries(lambda: as_carol.get(path))
    grow(pat_checklist, 3)
    as_carol.get(path)
    # Whatever the number of steps: the same reads, and the same one audit entry.
    with django_assert_num_queries(few):
        assert as_carol.get(path).status_code == 200


# Ticking a step off: the session's user; the step (scoped to the patient, for the answer); the
# workflow's savepoint and its release (the test runs inside a transaction, so the workflow's atomic
# block is one; the service's joins it without a savepoint of its own); the step's tick locked and
# read afresh; the tick written; then the outbox: the
# step's pending rows cancelled, the open steps the digest days are worked out from, the digest
# rows of the days this step gave (locked) and the days no longer wanted cancelled. (Whether an
# alert is open is asked of critical steps with an escalation delay only: the step here is not one.)
TICK_OFF = SIGNED_IN + 1 + 2 + 2 + 4
# Undoing it: the same up to the tick; then the step's own rows (locked), the digest rows of its
# days (locked) and those days made pending again.
TICK_ON = SIGNED_IN + 1 + 2 + 2 + 3


def test_ticking_a_step_is_pinned_and_does_not_grow_with_the_steps(
    pat, pat_phone, pat_checklist, django_assert_num_queries
):
    # A step whose digest days are all after today: today's digest row may be missing (its time
    # passed in the patient's quiet hours), and the statements would then depend on the clock.
    today, now = pat.local_today(), timezone.now()
    candidates = pat_checklist.tasks.filter(definition__critical=False).exclude(definition__reminder_rules=[])
    task = next(
        t for t in candidates.select_related("definition").order_by("pk")
        if (days := planning.digest_days_of_step(t, pat, now)) and min(days) > today
    )
    with django_assert_num_queries(TICK_OFF):
        assert pat_phone.post(f"/api/v1/me/tasks/{task.pk}/complete/").json()["status"] == "done"
    with django_assert_num_queries(TICK_ON):
        assert pat_phone.post(f"/api/v1/me/tasks/{task.pk}/reopen/").json()["status"] == "open"
    # Four times the steps: the same statements, none per step or per reminder row.
    grow(pat_checklist, 3)
    with django_assert_num_queries(TICK_OFF):
        assert pat_phone.post(f"/api/v1/me/tasks/{task.pk}/complete/").status_code == 200
    with django_assert_num_queries(TICK_ON):
        assert pat_phone.post(f"/api/v1/me/tasks/{task.pk}/reopen/").status_code == 200
    # Ticking a done step again writes nothing: the user, the step, its locked state, the savepoint.
    pat_phone.post(f"/api/v1/me/tasks/{task.pk}/complete/")
    with django_assert_num_queries(SIGNED_IN + 1 + 2 + 1):
        assert pat_phone.post(f"/api/v1/me/tasks/{task.pk}/complete/").status_code == 200
