"""Triggers that move a patient's plan revision with every change to what their plan is read from.

The checklist's validator (its ETag) is built from prepapp.Patient.plan_revision. Each table
below holds part of what a patient's plan shows; any INSERT, UPDATE or DELETE of its rows moves
the revision of every patient those rows belong to, in the same transaction, whichever code
writes (API, pages, admin, workflows, Celery tasks, a bulk UPDATE). On PostgreSQL the triggers
are per statement with transition tables: a bulk move of thousands of steps is one extra UPDATE,
not thousands. tests/test_plan_revision.py checks that every table the plan is read from is here.
"""

from django.db import migrations

# For each table: how its changed rows (`r`) lead to the patients whose plan they are part of.
CASE = "JOIN prepapp_surgerycase c ON c.id = l.case_id"
PATIENTS_OF = {
    "prepapp_surgerycase": "SELECT r.patient_id FROM {rows} r",
    "checklists_checklist": "SELECT c.patient_id FROM {rows} r JOIN prepapp_surgerycase c ON c.id = r.case_id",
    "checklists_task": f"SELECT c.patient_id FROM {{rows}} r JOIN checklists_checklist l ON l.id = r.checklist_id {CASE}",
    "checklists_taskdefinition": (
        f"SELECT c.patient_id FROM {{rows}} r JOIN checklists_checklist l ON l.protocol_version_id = r.version_id {CASE}"
    ),
    "checklists_protocolversion": (
        f"SELECT c.patient_id FROM {{rows}} r JOIN checklists_checklist l ON l.protocol_version_id = r.id {CASE}"
    ),
    "checklists_protocol": (
        "SELECT c.patient_id FROM {rows} r JOIN checklists_protocolversion v ON v.protocol_id = r.id "
        f"JOIN checklists_checklist l ON l.protocol_version_id = v.id {CASE}"
    ),
}
BUMP = "UPDATE prepapp_patient SET plan_revision = plan_revision + 1 WHERE id IN ({patients})"
EVENTS = {"insert": ["new_rows"], "update": ["old_rows", "new_rows"], "delete": ["old_rows"]}


def postgresql(table: str) -> tuple[list[str], list[str]]:
    forward, reverse = [], []
    for event, transitions in EVENTS.items():
        name = f"prep_plan_revision_{table}_{event}"
        patients = " UNION ".join(PATIENTS_OF[table].format(rows=rows) for rows in transitions)
        referencing = " ".join(f"{'OLD' if rows == 'old_rows' else 'NEW'} TABLE AS {rows}" for rows in transitions)
        forward.append(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {BUMP.format(patients=patients)}; RETURN NULL; END $$"
        )
        forward.append(
            f"CREATE TRIGGER {name} AFTER {event.upper()} ON {table} REFERENCING {referencing} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )
        reverse += [f"DROP TRIGGER IF EXISTS {name} ON {table}", f"DROP FUNCTION IF EXISTS {name}()"]
    return forward, reverse


def statements(vendor: str, direction: int) -> list[str]:
    # SQLite: see checklists.plan_revision (created after every migrate).
    build = {"postgresql": postgresql}.get(vendor)
    return [s for table in PATIENTS_OF for s in build(table)[direction]] if build else []


def create(apps, schema_editor):
    for statement in statements(schema_editor.connection.vendor, 0):
        schema_editor.execute(statement)


def drop(apps, schema_editor):
    for statement in statements(schema_editor.connection.vendor, 1):
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("checklists", "0006_recovery_stages_not_enough_time"),
        ("prepapp", "0007_patient_plan_revision"),
    ]

    operations = [migrations.RunPython(create, drop)]
