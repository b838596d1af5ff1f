"""The audit trail refuses TRUNCATE too, on PostgreSQL.

The append-only trigger of 0003 fires for each row an UPDATE or DELETE touches; TRUNCATE
touches no row one by one and went past it, emptying the whole trail at once. A statement
trigger refuses it. (SQLite, for `make run`, has no TRUNCATE.)

Only a session that says so first (`SET prepapp.audit_truncate = 'allowed'`) may empty it:
the test suite's connections do, because emptying every table between tests is how Django's
test runner starts each transactional test afresh. The service never does.
"""

from django.db import migrations

REFUSE_TRUNCATE = """
CREATE FUNCTION prepapp_auditentry_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('prepapp.audit_truncate', true) = 'allowed' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'prepapp_auditentry is append-only: TRUNCATE refused'
        USING ERRCODE = 'restrict_violation';
END;
$$;
CREATE TRIGGER prepapp_auditentry_no_truncate
    BEFORE TRUNCATE ON prepapp_auditentry
    FOR EACH STATEMENT EXECUTE FUNCTION prepapp_auditentry_no_truncate();
"""

ALLOW_TRUNCATE = """
DROP TRIGGER IF EXISTS prepapp_auditentry_no_truncate ON prepapp_auditentry;
DROP FUNCTION IF EXISTS prepapp_auditentry_no_truncate();
"""


class RunSQLOnPostgreSQL(migrations.RunSQL):
    """RunSQL that does nothing on other databases."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):

    dependencies = [("prepapp", "0011_surgerycase_approach_level")]

    operations = [RunSQLOnPostgreSQL(REFUSE_TRUNCATE, ALLOW_TRUNCATE)]
