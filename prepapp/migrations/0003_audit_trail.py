"""The audit trail: who, what, which patient, when and from where; append-only, and kept when a patient is erased.

Entries now survive their patient (the link becomes NULL, `patient_ref` keeps a pseudonymous
reference), carry the patient's organization (whose staff may read them) and the client's
address. On PostgreSQL a trigger refuses every UPDATE and DELETE on the table except the one
change erasing a patient makes: setting `patient_id` to NULL and nothing else.
"""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import CharField, OuterRef, Subquery, Value
from django.db.models.functions import Cast, Concat

APPEND_ONLY_TRIGGER = """
CREATE FUNCTION prepapp_auditentry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Erasing a patient (ON DELETE SET NULL, carried out by Django) clears the link, and only that.
    IF TG_OP = 'UPDATE' AND OLD.patient_id IS NOT NULL AND NEW.patient_id IS NULL
       AND to_jsonb(NEW) - 'patient_id' = to_jsonb(OLD) - 'patient_id' THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'prepapp_auditentry is append-only: % refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$;
CREATE TRIGGER prepapp_auditentry_append_only
    BEFORE UPDATE OR DELETE ON prepapp_auditentry
    FOR EACH ROW EXECUTE FUNCTION prepapp_auditentry_append_only();
"""

DROP_APPEND_ONLY_TRIGGER = """
DROP TRIGGER IF EXISTS prepapp_auditentry_append_only ON prepapp_auditentry;
DROP FUNCTION IF EXISTS prepapp_auditentry_append_only();
"""


class RunSQLOnPostgreSQL(migrations.RunSQL):
    """RunSQL that does nothing on other databases (SQLite for `make run` has no such trigger)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


def fill_references(apps, schema_editor):
    """Existing entries get their patient's pseudonymous reference and organization."""
    AuditEntry = apps.get_model("prepapp", "AuditEntry")
    Patient = apps.get_model("prepapp", "Patient")
    AuditEntry.objects.filter(patient__isnull=False).update(
        patient_ref=Concat(Value("patient-"), Cast("patient_id", CharField())),
        organization_id=Subquery(Patient.objects.filter(pk=OuterRef("patient_id")).values("organization_id")[:1]),
    )


class Migration(migrations.Migration):

    dependencies = [("prepapp", "0002_sign_in")]

    operations = [
        migrations.AlterField(
            model_name="auditentry",
            name="patient",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="audit_entries",
                to="prepapp.patient",
            ),
        ),
        migrations.AddField(
            model_name="auditentry",
            name="patient_ref",
            field=models.CharField(blank=True, max_length=40),
        ),
        migrations.AddField(
            model_name="auditentry",
            name="organization",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="prepapp.organization",
            ),
        ),
        migrations.AddField(
            model_name="auditentry",
            name="ip_address",
            field=models.GenericIPAddressField(blank=True, null=True),
        ),
        migrations.RunPython(fill_references, migrations.RunPython.noop),
        RunSQLOnPostgreSQL(APPEND_ONLY_TRIGGER, DROP_APPEND_ONLY_TRIGGER),
    ]
