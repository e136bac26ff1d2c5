"""A decided review never changes: the database refuses an UPDATE of a
review whose stored status is no longer "open" (the model's ``save`` refuses
it too, but a queryset ``update()`` or raw SQL goes around ``save``).

PostgreSQL gets a plpgsql trigger; SQLite (the embedded default) its own
trigger with ``RAISE(ABORT, ...)``. Deleting is left to the model and to
PROTECT: a trigger refusing DELETE would also refuse the cascade of a
deleted test database row, and nothing deletes a review in the portal.
"""

from typing import Any

from django.db import migrations

PG_CREATE = """
CREATE OR REPLACE FUNCTION reviews_review_refuse_decided_update() RETURNS trigger AS $$
BEGIN
    IF OLD.status <> 'open' THEN
        RAISE EXCEPTION 'review % is decided (%): a decided review never changes', OLD.id, OLD.status
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS reviews_review_decided_immutable ON reviews_review;
CREATE TRIGGER reviews_review_decided_immutable
    BEFORE UPDATE ON reviews_review
    FOR EACH ROW EXECUTE FUNCTION reviews_review_refuse_decided_update();
"""
PG_DROP = """
DROP TRIGGER IF EXISTS reviews_review_decided_immutable ON reviews_review;
DROP FUNCTION IF EXISTS reviews_review_refuse_decided_update();
"""
SQLITE_CREATE = """
CREATE TRIGGER IF NOT EXISTS reviews_review_decided_immutable
BEFORE UPDATE ON reviews_review
FOR EACH ROW WHEN OLD.status <> 'open'
BEGIN
    SELECT RAISE(ABORT, 'a decided review never changes');
END;
"""
SQLITE_DROP = "DROP TRIGGER IF EXISTS reviews_review_decided_immutable;"


def create(apps: Any, schema_editor: Any) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_CREATE, params=None)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_CREATE)


def drop(apps: Any, schema_editor: Any) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_DROP, params=None)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_DROP)


class Migration(migrations.Migration):
    dependencies = [("reviews", "0001_reviews_evidence_decisions_webhooks")]

    operations = [migrations.RunPython(create, drop)]
