"""Django's PostgreSQL backend, whose health check of a kept connection asks the socket, not the server.

With persistent connections (CONN_MAX_AGE) and CONN_HEALTH_CHECKS, Django checks a kept
connection before the first query of each request by sending `SELECT 1` and waiting for the
answer: a round trip on every request, to guard against a connection the server has ended
while it sat idle (a restart, a terminated backend, an idle timeout). When the server ends a
connection it says so on the socket (an error message, then end of file), so an idle
connection with nothing to read is still open on the server's side too. This backend looks
at the socket first, without waiting, and asks the server only when something is there to
read: such a connection goes through Django's own check and is replaced if dead. A
connection whose server vanished without a word (a host crash) is caught by neither check
before the query is sent, and fails as it would have before.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql.base import DatabaseWrapper as PostgreSQLDatabaseWrapper


def socket_is_quiet(connection) -> bool:
    """Whether a psycopg connection is open with nothing waiting to be read (no word from the server)."""
    if connection.closed or connection.broken:
        return False
    try:
        fd = connection.pgconn.socket
    except Exception:  # psycopg raises OperationalError for a connection with no socket  # noqa: BLE001
        return False
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI)
    return not poller.poll(0)


class DatabaseWrapper(PostgreSQLDatabaseWrapper):
    def close_if_health_check_failed(self):
        if self.pool or self.connection is None or not self.health_check_enabled or self.health_check_done:
            return super().close_if_health_check_failed()
        if socket_is_quiet(self.connection):
            self.health_check_done = True
            return None
        # Something came from the server while the connection was idle: ask it, as Django does.
        return super().close_if_health_check_failed()
