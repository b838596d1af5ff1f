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
