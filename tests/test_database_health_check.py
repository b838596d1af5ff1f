"""A kept database connection is checked at each request's first query without a round trip.

Django's health check sends `SELECT 1` before every request's first query. The project's
backend (prepapp.lib.postgresql) looks at the socket instead: a connection the server has ended
(restart, terminated backend) has the server's farewell waiting there, and only then is the
server asked; a dead connection is replaced before the request's query, as before.
"""

import time

import pytest
from django.db import connection, connections

from prepapp.lib.postgresql.base import DatabaseWrapper, socket_is_quiet

pytestmark = pytest.mark.django_db


@pytest.fixture
def kept():
    """A connection of its own, kept between requests and health-checked as production's are."""
    wrapper = DatabaseWrapper({**connection.settings_dict, "CONN_MAX_AGE": 60, "CONN_HEALTH_CHECKS": True},
                              alias="kept")
    wrapper.ensure_connection()
    yield wrapper
    wrapper.close()


def backend_pid(wrapper) -> int:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def next_request(wrapper) -> None:
    """What Django does between two requests: the next one's first query checks the connection."""
    wrapper.close_if_unusable_or_obsolete()
    assert not wrapper.health_check_done


def count_server_checks(wrapper, monkeypatch) -> list:
    asked = []
    real = wrapper.is_usable

    def is_usable():
        asked.append(True)
        return real()

    monkeypatch.setattr(wrapper, "is_usable", is_usable)
    return asked


def test_the_project_uses_this_backend():
    assert isinstance(connections["default"], DatabaseWrapper)


def test_a_healthy_kept_connection_is_not_asked(kept, monkeypatch):
    pid = backend_pid(kept)
    asked = count_server_checks(kept, monkeypatch)
    for _ in range(3):
        next_request(kept)
        assert backend_pid(kept) == pid
    assert asked == []


def test_a_connection_the_server_ended_is_replaced_before_the_query(kept, monkeypatch):
    pid = backend_pid(kept)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        assert cursor.fetchone()[0] is True
    # The server's farewell reaches the socket a moment later.
    deadline = time.monotonic() + 10
    while socket_is_quiet(kept.connection) and time.monotonic() < deadline:
        time.sleep(0.01)
    asked = count_server_checks(kept, monkeypatch)
    next_request(kept)
    new_pid = backend_pid(kept)  # would raise if the dead connection were used
    assert new_pid != pid
    assert asked == [True]
