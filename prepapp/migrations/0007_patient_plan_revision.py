"""The patient's plan revision, and the trigger that moves it with every change to the patient's row.

The other tables a patient's plan is read from (surgeries, checklists, steps, protocols) move it
too: their triggers are created in checklists 0007, above this layer.
"""

from django.db import migrations, models

POSTGRESQL = ["""
CREATE FUNCTION prep_patient_plan_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Whatever the UPDATE wrote here, the revision only ever moves forward by one.
    NEW.plan_revision := OLD.plan_revision + 1;
    RETURN NEW;
END $$""", """
CREATE TRIGGER prep_patient_plan_revision BEFORE UPDATE ON prepapp_patient
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION prep_patient_plan_revision()
"""]
POSTGRESQL_REVERSE = [
    "DROP TRIGGER IF EXISTS prep_patient_plan_revision ON prepapp_patient",
    "DROP FUNCTION IF EXISTS prep_patient_plan_revision()",
]
# SQLite (the local demo, one clinic on one machine): one revision for the whole database in a
# one-row table, which the triggers of checklists.plan_revision move on any change to a table a
# plan is read from. (SQLite rebuilds a table to alter it, dropping its triggers and refusing a
# rename that other triggers name, so they are created after every migrate instead.)
SQLITE = [
    "CREATE TABLE IF NOT EXISTS prep_plan_revision (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL)",
    "INSERT OR IGNORE INTO prep_plan_revision (id, value) VALUES (1, 0)",
]
SQLITE_REVERSE = ["DROP TABLE IF EXISTS prep_plan_revision"]


def run(statements: dict):
    def operation(apps, schema_editor):
        for statement in statements.get(schema_editor.connection.vendor, ()):
            schema_editor.execute(statement)

    return operation


create = run({"postgresql": POSTGRESQL, "sqlite": SQLITE})
drop = run({"postgresql": POSTGRESQL_REVERSE, "sqlite": SQLITE_REVERSE})


class Migration(migrations.Migration):
    dependencies = [("prepapp", "0006_patient_date_of_birth_and_status")]

    operations = [
        migrations.AddField(
            model_name="patient", name="plan_revision", field=models.PositiveBigIntegerField(default=0, editable=False)
        ),
        migrations.RunPython(create, drop),
    ]
