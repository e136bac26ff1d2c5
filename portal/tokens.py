"""Personal API tokens: ``Authorization: Bearer pg_<prefix>_<secret>``.

A token is shown once (on creation), stored hashed, revocable and expires.
Only a SHA-256 of the key is stored: the key is random and long, so a slow
password hash would add nothing. The prefix finds the row without scanning.
Creating and revoking are recorded in the change log.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from portal.audit import Actor, record_change
from portal.models import ApiToken, ChangeRecord

TOKEN_PREFIX = "pg_"  # noqa: S105 - a public marker, not a secret
MAX_TOKEN_DAYS = 365
# last_used_at is written at most this often: a busy script must not write on
# every call.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


class TokenRejected(Exception):
    """The key does not authenticate; ``str()`` says why, for the client."""


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _audit_view(token: ApiToken) -> dict[str, Any]:
    # Never the hash: the change log is readable by more people than the table.
    return {
        "name": token.name,
        "prefix": token.prefix,
        "expires_at": token.expires_at.isoformat(),
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
    }


def token_create(*, user: Any, name: str, days: int | None = None) -> tuple[ApiToken, str]:
    """Create a token for ``user`` and return it with its key.

    The key exists only in the return value: the caller shows it once.
    ``days`` defaults to ``settings.API_TOKEN_DEFAULT_DAYS``; at most 365.
    """
    if days is None:
        days = settings.API_TOKEN_DEFAULT_DAYS
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise ValidationError(
            {"days": f"A token lives between 1 and {MAX_TOKEN_DAYS} days, not {days}."}
        )
    prefix = secrets.token_hex(6)
    key = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken(
        user=user,
        name=name.strip(),
        prefix=prefix,
        key_hash=hash_key(key),
        expires_at=timezone.now() + dt.timedelta(days=days),
    )
    token.full_clean(exclude=["created_at"])
    with transaction.atomic():
        token.save()
        record_change(
            actor=user,
            instance=token,
            action=ChangeRecord.Action.CREATE,
            after=_audit_view(token),
            scope=f"user:{user.pk}",
            message="API token created",
        )
    return token, key


def token_revoke(*, token: ApiToken, actor: Actor) -> ApiToken:
    """Revoke ``token`` now. Revoking a revoked token changes nothing."""
    with transaction.atomic():
        # Lock the row: two revokes racing would both record a change.
        token = ApiToken.objects.select_for_update().get(pk=token.pk)
        if token.revoked_at is not None:
            return token
        before = _audit_view(token)
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        record_change(
            actor=actor,
            instance=token,
            action=ChangeRecord.Action.UPDATE,
            before=before,
            after=_audit_view(token),
            scope=f"user:{token.user_id}",
            message="API token revoked",
        )
    return token


def check_key(key: str) -> ApiToken:
    """The live token for ``key``; raises ``TokenRejected`` saying why not."""
    if not key.startswith(TOKEN_PREFIX):
        raise TokenRejected("Invalid token.")
    prefix = key[len(TOKEN_PREFIX) :].split("_", 1)[0]
    token = ApiToken.objects.select_related("user").filter(prefix=prefix).first()
    if token is None or not hmac.compare_digest(token.key_hash, hash_key(key)):
        raise TokenRejected("Invalid token.")
    # Past this point the caller holds the real key, so saying why is safe.
    now = timezone.now()
    if token.revoked_at is not None:
        raise TokenRejected("This token has been revoked.")
    if token.expires_at <= now:
        raise TokenRejected("This token has expired; create a new one on your account page.")
    if not token.user.is_active:
        raise TokenRejected("The token's user account is disabled.")
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def authenticate_key(key: str) -> ApiToken | None:
    """The live token for ``key``, or None (unknown, revoked or expired)."""
    try:
        return check_key(key)
    except TokenRejected:
        return None


class TokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer <key>`` (``Token <key>`` is accepted too)."""

    keywords = (b"bearer", b"token")

    def authenticate(self, request: Any) -> tuple[Any, ApiToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in self.keywords:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header; expected 'Bearer <key>'."
            )
        try:
            token = check_key(parts[1].decode("latin-1"))
        except TokenRejected as rejected:
            raise exceptions.AuthenticationFailed(str(rejected)) from None
        return token.user, token

    def authenticate_header(self, request: Any) -> str:
        return 'Bearer realm="api"'


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """Describes personal tokens in the OpenAPI schema."""

    target_class = "portal.tokens.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        scheme: dict[str, Any] = build_bearer_security_scheme_object(
            header_name="Authorization",
            token_prefix="Bearer",  # noqa: S106 - the scheme name, not a secret
        )
        scheme["description"] = "A personal API token, created on the account page."
        return scheme
