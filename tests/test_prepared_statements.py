"""The reads made on every patient request are prepared statements: the server plans them once per connection.

Django binds parameters on the client and never prepares; planning the checklist's stamps
(six tables joined and grouped) cost the server more than running them. The compiled reads of
prepapp.lib.prepared are prepared on the connection, and answer exactly as the queryset would.
"""

import pytest
from django.db import connection
from django.test import Client

from checklists.selectors import checklist_current, checklist_current_with_stamps
from prepapp.authentication import SESSION_USER_BACKEND

pytestmark = pytest.mark.django_db


def prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_a_patients_reads_are_prepared_on_the_connection(pat, pat_checklist):
    phone = Client()
    phone.force_login(pat.user, backend=SESSION_USER_BACKEND)
    etag = phone.get("/api/v1/me/checklist/")["ETag"]
    for _ in range(3):
        assert phone.get("/api/v1/me/checklist/", HTTP_IF_NONE_MATCH=etag).status_code == 304
    statements = prepared_statements()
    assert any('FROM "django_session"' in s and 'FROM "auth_user"' in s for s in statements)
    assert any('FROM "checklists_checklist"' in s and "COUNT(" in s for s in statements)


def test_a_prepared_read_answers_as_the_queryset_does(pat, pat_checklist):
    for _ in range(3):
        stamped = checklist_current_with_stamps(pat)
    plain = checklist_current(pat)
    assert stamped.pk == plain.pk and stamped.case.patient.pk == pat.pk
    assert stamped.protocol_version.protocol.key == plain.protocol_version.protocol.key
    assert stamped.tasks_count == pat_checklist.tasks.count()
    assert stamped.tasks_changed_at == max(t.updated_at for t in pat_checklist.tasks.all())
