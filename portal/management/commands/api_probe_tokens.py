"""Users and API tokens for probing the API (``make schemathesis``).

Creates (or reuses) ``probe-admin`` (platform admin) and ``probe-team``
(pilot team), gives each a fresh token and prints shell ``export`` lines:

    eval "$(python manage.py api_probe_tokens)"   # PG_ADMIN_TOKEN, PG_TEAM_TOKEN

For throwaway databases (CI, a local check): it refuses with
DJANGO_DEBUG=false unless ``--allow-production``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from portal.env import env_bool
from portal.roles import Role, sync_role_groups
from portal.tokens import token_create

PROBES = (
    ("probe-admin", Role.ADMIN, "PG_ADMIN_TOKEN"),
    ("probe-team", Role.PILOT_TEAM, "PG_TEAM_TOKEN"),
)


class Command(BaseCommand):
    help = "Create probe users with fresh API tokens; print them as shell exports."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--allow-production", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        if not env_bool("DJANGO_DEBUG", True) and not options["allow_production"]:
            raise CommandError(
                "api_probe_tokens creates an admin with a token: not with DJANGO_DEBUG=false "
                "(pass --allow-production on a throwaway database)."
            )
        sync_role_groups()
        user_model = get_user_model()
        lines = []
        with transaction.atomic():
            for username, role, variable in PROBES:
                user, _ = user_model.objects.get_or_create(
                    username=username,
                    defaults={"is_staff": role == Role.ADMIN, "email": f"{username}@localhost"},
                )
                user.set_unusable_password()
                user.save()
                user.groups.set(Group.objects.filter(name=role))
                # A new name each run: token names are unique per user.
                _, key = token_create(
                    user=user, name=f"probe {timezone.now():%Y%m%d%H%M%S%f}", days=1
                )
                lines.append(f"export {variable}={key}")
        self.stdout.write("\n".join(lines))
