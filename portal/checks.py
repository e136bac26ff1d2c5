"""System checks of the portal.

``migrate`` runs the database checks before it touches anything, so a
database made before the app layout change (metrics moved out of ``costs``)
is refused with a plain instruction instead of a confusing migration error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.core.checks import CheckMessage, Error, Tags, register
from django.db import DatabaseError, connections

# Only the old layout ever had this table: its metrics lived in the costs app.
OLD_LAYOUT_TABLE = "costs_importjob"


@register(Tags.database)
def old_layout_database(
    app_configs: Sequence[AppConfig] | None = None,
    databases: Sequence[str] | None = None,
    **kwargs: Any,
) -> list[CheckMessage]:
    problems: list[CheckMessage] = []
    for alias in databases or ():
        try:
            with connections[alias].cursor() as cursor:
                tables = connections[alias].introspection.table_names(cursor)
        except DatabaseError:
            continue  # no database yet: migrate will create it
        if OLD_LAYOUT_TABLE in tables:
            problems.append(
                Error(
                    "This database was made before metrics moved from the costs app to its "
                    "own metrics app, and cannot be migrated in place.",
                    hint="There is no deployed database yet: delete db.sqlite3 (or drop and "
                    "recreate the PostgreSQL database), then run `make run` again.",
                    id="portal.E001",
                )
            )
    return problems
