"""On PostgreSQL, the database itself refuses to change or delete audit records."""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION lms_auditlog_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'lms_auditlog is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER lms_auditlog_no_update BEFORE UPDATE OR DELETE ON lms_auditlog
    FOR EACH ROW EXECUTE FUNCTION lms_auditlog_append_only();
"""
BACKWARD = """
DROP TRIGGER IF EXISTS lms_auditlog_no_update ON lms_auditlog;
DROP FUNCTION IF EXISTS lms_auditlog_append_only();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("lms", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]
