"""Personal API tokens: ``Authorization: Bearer pg_<prefix>_<secret>``.

Only a SHA-256 of the key is stored (the key is random and long, so a slow
password hash would add nothing). The prefix finds the row without scanning.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from typing import Any

from django.db import transaction
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from portal.models import ApiToken

TOKEN_PREFIX = "pg_"  # noqa: S105 - a public marker, not a secret


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def token_create(*, user: Any, name: str, days: int) -> tuple[ApiToken, str]:
    """Create a token and return it with its key. The key is never stored."""
    prefix = secrets.token_hex(4)
    key = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken(
        user=user,
        name=name.strip(),
        prefix=prefix,
        key_hash=hash_key(key),
        expires_at=timezone.now() + dt.timedelta(days=days),
    )
    token.full_clean()
    with transaction.atomic():
        token.save()
    return token, key


def token_revoke(*, token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def authenticate_key(key: str) -> ApiToken | None:
    """The live token for ``key``, or None (unknown, revoked or expired)."""
    if not key.startswith(TOKEN_PREFIX):
        return None
    prefix = key[len(TOKEN_PREFIX) :].split("_", 1)[0]
    token = ApiToken.objects.select_related("user").filter(prefix=prefix).first()
    if token is None or not hmac.compare_digest(token.key_hash, hash_key(key)):
        return None
    now = timezone.now()
    if token.revoked_at is not None or token.expires_at <= now:
        return None
    if not token.user.is_active:
        return None
    # One write a minute at most: a busy script must not write on every call.
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


class TokenAuthentication(BaseAuthentication):
    keywords = (b"bearer", b"token")

    def authenticate(self, request: Any) -> tuple[Any, ApiToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in self.keywords:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header.")
        token = authenticate_key(parts[1].decode("latin-1"))
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        return token.user, token

    def authenticate_header(self, request: Any) -> str:
        return "Bearer"
