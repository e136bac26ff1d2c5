"""``python manage.py import_focus FILE...``

Imports each FOCUS CSV synchronously through the same service as the page
and the API; prints the counts per file; exits non-zero if any file failed.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from costs.models import BillImport
from costs.services import bill_import_create, bill_import_run


class Command(BaseCommand):
    help = "Import FOCUS 1.0-1.2 bill files (CSV)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", metavar="FILE")

    def handle(self, *args: Any, **options: Any) -> None:
        failures = 0
        for path in options["files"]:
            try:
                job = bill_import_create(
                    actor=None, file=path, source=BillImport.Source.CLI, enqueue=False
                )
            except ValidationError as exc:
                failures += 1
                self.stderr.write(f"{path}: {'; '.join(exc.messages)}")
                continue
            bill_import_run(job_id=job.pk)
            job.refresh_from_db()
            if job.status != BillImport.Status.SUCCEEDED:
                failures += 1
                self.stderr.write(f"{path}: bill import {job.pk} {job.status}: {job.error}")
                continue
            self.stdout.write(
                f"{path}: bill import {job.pk} (FOCUS {job.focus_version}): read {job.rows_read}, "
                f"stored {job.rows_stored}, duplicates {job.duplicates}, "
                f"rejected {job.rejected} (currency {job.currency_refused}), "
                f"unmatched {job.unmatched_count}; EffectiveCost {job.effective_cost:f} "
                f"{job.currency}"
            )
            if job.missing_columns:
                self.stdout.write(f"  missing FOCUS columns: {', '.join(job.missing_columns)}")
            for reject in job.rejects[:5]:
                self.stdout.write(f"  line {reject['line']}: {reject['reason']}")
        if failures:
            raise CommandError(f"{failures} of {len(options['files'])} file(s) failed.")
