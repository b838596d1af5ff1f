"""The plan revision on SQLite (the local demo): one counter, moved by triggers made after every migrate.

On PostgreSQL each patient has a revision of their own, moved by the triggers of the
migrations prepapp 0007 and checklists 0007. SQLite alters a table by building a new one,
which drops the table's triggers and refuses to rename a table that another trigger names;
so here every table a plan is read from gets a trigger that only moves one database-wide
counter (any change anywhere gives every phone a new validator: right, if less thrifty),
and the triggers are (re)made after every migrate, when a rebuild may have dropped them.
"""

from __future__ import annotations

from django.db import connections

# The tables a patient's plan is read from (tests/test_plan_revision.py checks the list on PostgreSQL).
TABLES = (
    "prepapp_patient", "prepapp_surgerycase", "checklists_checklist", "checklists_task",
    "checklists_taskdefinition", "checklists_protocolversion", "checklists_protocol",
)


def ensure_sqlite_triggers(using: str = "default", **kwargs) -> None:
    connection = connections[using]
    if connection.vendor != "sqlite":
        return
    existing = set(connection.introspection.table_names())
    if "prep_plan_revision" not in existing:
        return  # not migrated that far yet
    with connection.cursor() as cursor:
        for table in TABLES:
            if table not in existing:
                continue
            for event in ("INSERT", "UPDATE", "DELETE"):
                cursor.execute(
                    f"CREATE TRIGGER IF NOT EXISTS prep_plan_revision_{table}_{event.lower()} "  # nosec B608
                    f"AFTER {event} ON {table} FOR EACH ROW "
                    "BEGIN UPDATE prep_plan_revision SET value = value + 1 WHERE id = 1; END"
                )
