"""``python manage.py import_metrics --backend SLUG [--pilot ID] [--format F] FILE...``

Imports each file synchronously through the same service as the page and
the API; prints the counts per file; exits non-zero if any file failed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from metrics.models import ImportJob
from metrics.services import import_job_create, import_job_run
from pilots.models import Backend, Pilot


class Command(BaseCommand):
    help = "Import metric files (Prometheus text, OpenMetrics, query JSON, CSV) for a backend."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", metavar="FILE")
        parser.add_argument("--backend", required=True, help="Backend slug.")
        parser.add_argument("--pilot", type=int, help="Pilot id.")
        parser.add_argument(
            "--format", default="auto", choices=ImportJob.Format.values, help="Default: auto."
        )
        parser.add_argument(
            "--scrape-time",
            help="ISO-8601 time for samples without a timestamp (default: now).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            backend = Backend.objects.get(slug=options["backend"])
        except Backend.DoesNotExist:
            raise CommandError(f"No backend with slug {options['backend']!r}.") from None
        pilot = None
        if options["pilot"] is not None:
            try:
                pilot = Pilot.objects.get(pk=options["pilot"])
            except Pilot.DoesNotExist:
                raise CommandError(f"No pilot with id {options['pilot']}.") from None
        scrape_time = None
        if options["scrape_time"]:
            try:
                scrape_time = dt.datetime.fromisoformat(options["scrape_time"])
            except ValueError:
                raise CommandError("--scrape-time is not an ISO-8601 time.") from None
            if scrape_time.tzinfo is None:
                scrape_time = scrape_time.replace(tzinfo=dt.UTC)
        failures = 0
        for path in options["files"]:
            try:
                job = import_job_create(
                    actor=None,
                    backend=backend,
                    pilot=pilot,
                    fmt=options["format"],
                    source=ImportJob.Source.CLI,
                    file=path,
                    scrape_time=scrape_time,
                    enqueue=False,
                )
            except ValidationError as exc:
                failures += 1
                self.stderr.write(f"{path}: {'; '.join(exc.messages)}")
                continue
            import_job_run(job_id=job.pk)
            job.refresh_from_db()
            if job.status != ImportJob.Status.SUCCEEDED:
                failures += 1
                self.stderr.write(f"{path}: job {job.pk} {job.status}: {job.error}")
                continue
            self.stdout.write(
                f"{path}: job {job.pk} {job.detected_format}: read {job.samples_read}, "
                f"stored {job.samples_stored}, duplicates {job.duplicates}, "
                f"rejected {job.rejected}, unmapped {job.unmapped_count}"
            )
            for reject in job.rejects[:5]:
                self.stdout.write(f"  line {reject['line']}: {reject['reason']}")
        if failures:
            raise CommandError(f"{failures} of {len(options['files'])} file(s) failed.")
