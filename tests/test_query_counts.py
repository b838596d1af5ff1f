"""The patient's checklist is read in a fixed number of queries, however many tasks it has."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from checklists.models import Task

pytestmark = pytest.mark.django_db


def checklist_queries(client):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/api/v1/me/checklist/")
    assert response.status_code == 200
    return len(ctx.captured_queries), response.json()["counts"]["total"]


def test_checklist_query_count_is_pinned_and_flat(as_pat, pat_checklist, django_assert_num_queries):
    few_queries, few_tasks = checklist_queries(as_pat)
    # Grow the checklist to four times as many tasks. The unique (checklist, definition) key
    # forbids copies on one checklist, so each extra task gets a copy of a definition.
    definitions = list(pat_checklist.protocol_version.definitions.all())
    extra = []
    for i in range(3):
        for d in definitions:
            d.pk = None
            d.key = f"{d.key}-{i}"
            d.position += 100 * (i + 1)
            d.save()
            extra.append(Task(checklist=pat_checklist, definition=d, due_date=pat_checklist.case.surgery_date))
    Task.objects.bulk_create(extra)
    many_queries, many_tasks = checklist_queries(as_pat)
    assert many_tasks >= 3 * few_tasks
    assert many_queries == few_queries
    # Pinned: session user, patient, checklist with case and protocol, tasks with definitions.
    with django_assert_num_queries(few_queries):
        as_pat.get("/api/v1/me/checklist/")
    assert few_queries <= 5
