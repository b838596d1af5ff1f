"""Updating many rows with a different value each, in statements whose cost grows with the rows only.

Django's bulk_update writes `SET f = CASE WHEN id = 1 THEN … WHEN id = 2 THEN … END` for each
field, which the database evaluates branch by branch for every row: a batch of n rows costs in
the order of n² comparisons. On PostgreSQL this joins a VALUES list instead (one hash or index
lookup per row); elsewhere it falls back to bulk_update.
"""

from __future__ import annotations

from django.db import connections


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


def insert_rows(model, fields: list[str], rows: list[tuple], *, ignore_conflicts: bool = False,
                using: str = "default") -> None:
    """Insert plain tuples (values in `fields` order, already as the database stores them), no model instances.

    For the hot paths that write hundreds of rows a statement (the inbox, the delivery log):
    building an instance per row costs more than the insert itself. On PostgreSQL one
    `INSERT … SELECT * FROM UNNEST(…)` with an array per column; elsewhere bulk_create.
    """
    if not rows:
        return
    connection = connections[using]
    if connection.vendor != "postgresql":
        model._default_manager.using(using).bulk_create(
            [model(**dict(zip(fields, row))) for row in rows], ignore_conflicts=ignore_conflicts
        )
        return
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    names = ", ".join(quote(f.column) for f in columns)
    arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in columns)
    conflict = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
    with connection.cursor() as cursor:
        # Table and column names come from the model's metadata; every value is a parameter.
        cursor.execute(
            f"INSERT INTO {quote(meta.db_table)} ({names}) SELECT * FROM UNNEST({arrays}){conflict}",  # nosec B608
            [list(column) for column in zip(*rows)],
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
