"""Updating many rows with a different value each, in statements whose cost grows with the rows only.

Django's bulk_update writes `SET f = CASE WHEN id = 1 THEN … WHEN id = 2 THEN … END` for each
field, which the database evaluates branch by branch for every row: a batch of n rows costs in
the order of n² comparisons. On PostgreSQL this joins a VALUES list instead (one hash or index
lookup per row); elsewhere it falls back to bulk_update.
"""

from __future__ import annotations

from django.db import connections
from django.db.models import F, Lookup, Q


class _AnyOf(Lookup):
    """`column = ANY(%s)`: the whole list of values as one array parameter (PostgreSQL)."""

    lookup_name = "any_of"
    prepare_rhs = False

    def get_db_prep_lookup(self, value, connection):
        return "%s", [list(value)]

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY({rhs})", [*lhs_params, *rhs_params]


def among(field: str, values, *, using: str = "default"):
    """A filter for rows whose `field` is one of `values`, cheap to build for a thousand of them.

    `field__in` makes a placeholder and a parameter per value, which Django and the driver
    then build and quote one by one (a few milliseconds for a delivery batch's thousand ids);
    on PostgreSQL this is one array instead. The same rows either way.
    """
    if connections[using].vendor != "postgresql":
        return Q(**{f"{field}__in": list(values)})
    return _AnyOf(F(field), list(values))


def bulk_update_rows(model, objs, fields: list[str], *, batch_size: int = 2000, using: str = "default") -> int:
    """Write `fields` of each object to its row (by primary key); returns the rows written."""
    objs = list(objs)
    if not objs:
        return 0
    connection = connections[using]
    if connection.vendor != "postgresql":
        return model._default_manager.using(using).bulk_update(objs, fields, batch_size=batch_size)
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    pk = meta.pk
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    casts = [f"%s::{field.db_type(connection)}" for field in (pk, *columns)]
    assignments = ", ".join(f"{quote(f.column)} = v.{quote(f.column)}" for f in columns)
    names = ", ".join(quote(f.column) for f in (pk, *columns))
    written = 0
    with connection.cursor() as cursor:
        for start in range(0, len(objs), batch_size):
            batch = objs[start:start + batch_size]
            values = ", ".join(f"({', '.join(casts)})" for _ in batch)
            params = []
            for obj in batch:
                params.append(pk.get_db_prep_value(obj.pk, connection))
                params.extend(f.get_db_prep_save(getattr(obj, f.attname), connection) for f in columns)
            # Table and column names come from the model's metadata; every value is a parameter.
            cursor.execute(
                f"UPDATE {table} AS t SET {assignments} FROM (VALUES {values}) AS v({names}) "  # nosec B608
                f"WHERE t.{quote(pk.column)} = v.{quote(pk.column)}",
                params,
            )
            written += cursor.rowcount
    return written


# A column is sent as its distinct values and an index per row when each value comes back at
# least this many times on average: the index costs little to send, a long text much more.
REPEATS = 4


def insert_rows(model, fields: list[str], rows: list[tuple], *, same: dict | None = None,
                ignore_conflicts: bool = False, using: str = "default") -> None:
    """Insert plain tuples (values in `fields` order, already as the database stores them), no model instances.

    For the hot paths that write hundreds of rows a statement (the inbox, the delivery log):
    building an instance per row costs more than the insert itself. `same` gives columns whose
    value is the same for every row (sent once, not once per row). On PostgreSQL one
    `INSERT … SELECT … FROM UNNEST(…)` with an array per column; elsewhere bulk_create.
    """
    if not rows:
        return
    same = same or {}
    connection = connections[using]
    if connection.vendor != "postgresql":
        model._default_manager.using(using).bulk_create(
            [model(**dict(zip(fields, row)), **same) for row in rows], ignore_conflicts=ignore_conflicts
        )
        return
    meta = model._meta
    quote = connection.ops.quote_name
    columns = [meta.get_field(name) for name in fields]
    names = ", ".join(quote(f.column) for f in (*columns, *(meta.get_field(name) for name in same)))
    # The statement's parameters in their order: the SELECT list's, then UNNEST's arrays.
    selected, selected_params, arrays, array_params = [], [], [], []
    for position, (field, values) in enumerate(zip(columns, zip(*rows))):
        kind = field.db_type(connection)
        try:
            distinct = list(dict.fromkeys(values))
        except TypeError:  # unhashable values (a JSON column's lists): sent row by row
            distinct = values
        if len(distinct) * REPEATS <= len(values):
            # Values that repeat (a batch's messages share their words): each sent once, and for
            # each row its place among them (1-based, as arrays are). The same values are stored.
            place = {value: number for number, value in enumerate(distinct, start=1)}
            selected.append(f"(%s::{kind}[])[v.c{position}]")
            selected_params.append(distinct)
            arrays.append("%s::int[]")
            array_params.append([place[value] for value in values])
        else:
            selected.append(f"v.c{position}")
            arrays.append(f"%s::{kind}[]")
            array_params.append(list(values))
    for name, value in same.items():
        selected.append(f"%s::{meta.get_field(name).db_type(connection)}")
        selected_params.append(value)
    aliases = ", ".join(f"c{position}" for position in range(len(columns)))
    conflict = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
    with connection.cursor() as cursor:
        # Table and column names come from the model's metadata; every value is a parameter.
        cursor.execute(
            f"INSERT INTO {quote(meta.db_table)} ({names}) SELECT {', '.join(selected)} "  # nosec B608
            f"FROM UNNEST({', '.join(arrays)}) AS v({aliases}){conflict}",
            [*selected_params, *array_params],
        )


# Rows added by one bulk operation from which its tables' planner statistics are refreshed at once.
ANALYZE_AFTER_ROWS = 5000


def refresh_statistics(models, *, rows_added: int, using: str = "default") -> bool:
    """ANALYZE the tables of `models` when a bulk operation just added many rows (PostgreSQL).

    Autovacuum refreshes them too, but only a while after the commit. Until then the planner
    still sees the tables as they were: measured after assigning 10,000 cases, the reads of a
    bulk move that followed at once scanned every digest or every pending reminder instead of
    the rows of the moved patients (13 and 5 times slower than after ANALYZE). ANALYZE reads
    a sample, in this transaction (which counts its own new rows), and blocks no writer.
    """
    connection = connections[using]
    if rows_added < ANALYZE_AFTER_ROWS or connection.vendor != "postgresql":
        return False
    tables = ", ".join(connection.ops.quote_name(model._meta.db_table) for model in models)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {tables}")
    return True
