"""A database made before the app layout change is refused by ``migrate``
with a plain instruction (issue: metrics moved out of the costs app)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection

from portal.checks import OLD_LAYOUT_TABLE, old_layout_database


@pytest.mark.django_db(transaction=True)
def test_migrate_refuses_a_database_of_the_old_layout_and_says_what_to_do() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {OLD_LAYOUT_TABLE} (id integer primary key)")
    try:
        problems = old_layout_database(databases=["default"])
        assert [p.id for p in problems] == ["portal.E001"]
        assert "delete db.sqlite3" in (problems[0].hint or "")
        with pytest.raises(SystemCheckError, match="before metrics moved"):
            call_command("migrate", "--check", verbosity=0, skip_checks=False)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {OLD_LAYOUT_TABLE}")


@pytest.mark.django_db
def test_a_database_of_the_new_layout_passes() -> None:
    assert old_layout_database(databases=["default"]) == []
