from typing import Any

from django.http import HttpRequest

from portal.roles import Role, user_roles


def roles(request: HttpRequest) -> dict[str, Any]:
    """Expose the user's roles to templates (navigation shows what they may use)."""
    held = user_roles(request.user)
    return {"user_roles": held, "Role": Role}
