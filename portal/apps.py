from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_roles(sender: AppConfig, **kwargs: Any) -> None:
    from portal.roles import sync_role_groups

    sync_role_groups()


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Portal"

    def ready(self) -> None:
        from portal import checks  # noqa: F401  (registers the system checks)

        # Groups need the permissions of every app, so sync after all migrate.
        post_migrate.connect(_sync_roles, dispatch_uid="pilotgate-sync-roles")
