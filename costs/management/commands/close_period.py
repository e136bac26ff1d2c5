"""``manage.py close_period YYYY-MM``: close a month (issue 10, §1) as the
system (the audit trail says so), exactly as finance's close button does."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from costs.selectors import Period
from costs.services import period_close


class Command(BaseCommand):
    help = "Close a chargeback month: freeze one statement per cost center."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("period", help="The month, YYYY-MM.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            period = Period.parse(options["period"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if not options["period"]:
            raise CommandError("Name the month: YYYY-MM.")
        try:
            row = period_close(period=period, actor=None)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        count = row.statements.filter(version=row.version).count()
        self.stdout.write(f"Closed {row.period}: {count} statements, total {row.showback_total}.")
