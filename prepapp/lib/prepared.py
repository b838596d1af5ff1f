"""Querysets compiled to SQL once per process, planned once per connection, then run with other values.

Turning a queryset into SQL is Django's work on every query: for the reads made on every
patient request (the signed-in user, the checklist's stamps) it costs more CPU than running
the query. A PreparedQuery builds the queryset once with stand-in values, keeps the SQL and
the compiler, and then runs the same SQL with the request's values, turning the rows into
model instances exactly as the queryset would (select_related and annotations included).

On PostgreSQL the statement is also a prepared statement of the connection: Django binds
parameters on the client and never prepares, so the server parses and plans each query
anew, and planning the checklist's stamps (six tables joined and grouped) took longer than
running it (1.2 ms against 0.5 ms). Prepared, the server keeps the parsed statement and,
once it has seen that one plan suits every value, the plan too.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Callable

from django.db import connections
from django.db.models import QuerySet
from django.db.models.query import get_related_populators

# Stand-ins no real row has; each must appear exactly once among the compiled parameters.
STAND_INS = (-918_273_645, -918_273_646, -918_273_647)


@cache
def _preparing_cursor_class():
    from django.db.backends.postgresql.psycopg_any import is_psycopg3

    if not is_psycopg3:
        return None
    from django.db.backends.postgresql.base import ServerBindingCursor

    class PreparingCursor(ServerBindingCursor):
        """psycopg's server-side binding cursor, each of whose statements is prepared on the server."""

        def execute(self, query, params=None, *, prepare=None, binary=None):
            return super().execute(query, params, prepare=True, binary=binary)

    return PreparingCursor


def prepared_cursor(db):
    """A Django cursor (execute wrappers, error translation, query logging) whose statements the server prepares.

    Other databases than PostgreSQL with psycopg 3 get Django's usual cursor.
    """
    cursor_class = _preparing_cursor_class() if db.vendor == "postgresql" else None
    if cursor_class is None or db.settings_dict["OPTIONS"].get("prepare_threshold") is None:
        return db.cursor()  # no prepared statements asked for (DB_PREPARED_STATEMENTS)
    # What BaseDatabaseWrapper.cursor() does, with this cursor class instead of the connection's.
    db.close_if_health_check_failed()
    db.ensure_connection()
    with db.wrap_database_errors:
        raw = cursor_class(db.connection)
    return db._prepare_cursor(raw)


class PreparedQuery:
    """`build(*values)` returns the queryset; `first(*values)` runs it (compiled once) and returns its first row's object.

    `stand_ins` are values of the right types that no real row has (integers by default).
    """

    def __init__(self, build: Callable[..., QuerySet], stand_ins: tuple = STAND_INS[:1]):
        self.build = build
        self.stand_ins = stand_ins
        self._compiled: dict[str, tuple] = {}
        self._lock = threading.Lock()

    def _compile(self, using: str):
        stand_ins = self.stand_ins
        queryset = self.build(*stand_ins)
        compiler = queryset.query.get_compiler(using=using)
        sql, params = compiler.as_sql()
        positions = []
        for stand_in in stand_ins:
            found = [i for i, p in enumerate(params) if p == stand_in]
            if len(found) != 1:
                raise ValueError(f"a prepared query must use each value once; {stand_in} appears {len(found)} times")
            positions.append(found[0])
        return compiler, sql, list(params), positions

    def compiled(self, values, using: str = "default") -> tuple:
        """The compiler, the SQL and its parameters with these values in place of the stand-ins."""
        compiled = self._compiled.get(using)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get(using) or self._compile(using)
                self._compiled[using] = compiled
        compiler, sql, params, positions = compiled
        params = list(params)
        for position, value in zip(positions, values):
            params[position] = value
        return compiler, sql, params

    def first(self, *values, using: str = "default"):
        if connections[using].vendor != "postgresql":
            # Elsewhere (SQLite, for the local demo) the ORM runs it: it adapts each value to the
            # backend's storage (SQLite keeps datetimes as text), which the compiled SQL would not.
            return next(iter(self.build(*values).using(using)), None)
        compiler, sql, params = self.compiled(values, using)
        with prepared_cursor(connections[using]) as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchmany(1)
        if not rows:
            return None
        return self._instance(compiler, rows, using)

    @staticmethod
    def _instance(compiler, rows, using):
        # What ModelIterable does with a compiler's rows (django/db/models/query.py).
        select, klass_info, annotation_col_map = compiler.select, compiler.klass_info, compiler.annotation_col_map
        model_cls = klass_info["model"]
        select_fields = klass_info["select_fields"]
        start, end = select_fields[0], select_fields[-1] + 1
        init_list = [f[0].target.attname for f in select[start:end]]
        related_populators = get_related_populators(klass_info, select, using)
        row = next(iter(compiler.results_iter(results=[rows])))
        obj = model_cls.from_db(using, init_list, row[start:end])
        for populator in related_populators:
            populator.populate(row, obj)
        for name, position in (annotation_col_map or {}).items():
            setattr(obj, name, row[position])
        return obj


class PreparedPair:
    """Two prepared queries asked in one statement: the first one's row, with the second's beside it.

    `first(first_values, second_values)` returns (first object or None, second object or None):
    one round trip instead of two when the second query's values are known before the first
    one's answer (or can be guessed, and the guess checked against it).
    """

    def __init__(self, leading: PreparedQuery, beside: PreparedQuery):
        self.leading, self.beside = leading, beside

    def first(self, leading_values, beside_values, using: str = "default"):
        if connections[using].vendor != "postgresql":
            first = self.leading.first(*leading_values, using=using)  # see PreparedQuery.first
            return first, (self.beside.first(*beside_values, using=using) if first is not None else None)
        leading, leading_sql, leading_params = self.leading.compiled(leading_values, using)
        beside, beside_sql, beside_params = self.beside.compiled(beside_values, using)
        # Duplicate column names are allowed in a subquery's output; the row is split by position.
        # Both parts are SQL compiled by Django from querysets, with every value a parameter.
        sql = f"SELECT * FROM ({leading_sql}) AS leading_row LEFT JOIN LATERAL ({beside_sql}) AS beside_row ON TRUE"  # nosec B608
        with prepared_cursor(connections[using]) as cursor:
            cursor.execute(sql, leading_params + beside_params)
            rows = cursor.fetchmany(1)
        if not rows:
            return None, None
        width = leading.col_count
        row = rows[0]
        first = PreparedQuery._instance(leading, [row[:width]], using)
        rest = row[width:]
        second = None if all(value is None for value in rest) else PreparedQuery._instance(beside, [rest], using)
        return first, second
