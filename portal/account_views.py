"""The user's own account pages: personal API tokens."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views import View

from portal.forms import TokenCreateForm
from portal.models import ApiToken
from portal.roles import TOKENS_MANAGE, RoleRequiredMixin, may
from portal.tokens import token_create, token_revoke


def token_status(token: ApiToken, now: dt.datetime) -> str:
    """``active``, ``revoked`` or ``expired`` (also the badge class)."""
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at <= now:
        return "expired"
    return "active"


class TokenListView(RoleRequiredMixin, View):
    """My tokens: name, prefix, dates, status; revoke buttons."""

    def get(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        assert user.is_authenticated  # RoleRequiredMixin has checked
        now = timezone.now()
        tokens = [(token, token_status(token, now)) for token in ApiToken.objects.filter(user=user)]
        return render(
            request,
            "portal/tokens.html",
            {"tokens": tokens, "nav": "account-tokens", "may_manage": may(user, TOKENS_MANAGE)},
        )


class AllTokensView(RoleRequiredMixin, View):
    """Every user's tokens, for platform admins: who holds which, and revoke any."""

    capability = TOKENS_MANAGE

    def get(self, request: HttpRequest) -> HttpResponse:
        now = timezone.now()
        tokens = [
            (token, token_status(token, now))
            for token in ApiToken.objects.select_related("user").order_by(
                "user__username", "-created_at"
            )
        ]
        return render(
            request, "portal/tokens_all.html", {"tokens": tokens, "nav": "account-tokens"}
        )


class TokenCreateView(RoleRequiredMixin, View):
    """Create a token; the result page is the only place its key appears."""

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._form_page(request, TokenCreateForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = TokenCreateForm(request.POST)
        if form.is_valid():
            try:
                token, key = token_create(
                    user=request.user,
                    name=form.cleaned_data["name"],
                    days=form.cleaned_data["days"],
                )
            except ValidationError as error:
                for field, field_errors in error.message_dict.items():
                    # The model's only cross-field rule is "one name per user".
                    target = field if field in form.fields else "name"
                    if field == NON_FIELD_ERRORS:
                        target = "name"
                    for message in field_errors:
                        form.add_error(target, message)
            else:
                response = render(
                    request,
                    "portal/token_created.html",
                    {
                        "token": token,
                        "key": key,
                        "api_root": request.build_absolute_uri(reverse("api-pilot-list")),
                        "nav": "account-tokens",
                    },
                )
                # The key must not linger in any cache.
                add_never_cache_headers(response)
                return response
        return self._form_page(request, form)

    def _form_page(self, request: HttpRequest, form: TokenCreateForm) -> HttpResponse:
        return render(
            request,
            "portal/token_form.html",
            {"form": form, "nav": "account-tokens"},
            status=400 if form.unknown_fields else 200,
        )


class TokenRevokeView(RoleRequiredMixin, View):
    """GET: confirm; POST: revoke. One's own token, or anyone's for a platform
    admin; other tokens are 404 (their existence is nobody else's business)."""

    def _token(self, request: HttpRequest, token_id: int) -> ApiToken:
        tokens = ApiToken.objects.select_related("user")
        if not may(request.user, TOKENS_MANAGE):
            tokens = tokens.filter(user_id=request.user.pk or 0)
        return get_object_or_404(tokens, pk=token_id)

    def get(self, request: HttpRequest, token_id: int) -> HttpResponse:
        token = self._token(request, token_id)
        return render(
            request,
            "portal/token_revoke.html",
            {
                "token": token,
                "status": token_status(token, timezone.now()),
                "mine": token.user_id == request.user.pk,
                "nav": "account-tokens",
            },
        )

    def post(self, request: HttpRequest, token_id: int) -> HttpResponseRedirect:
        token = self._token(request, token_id)
        token_revoke(token=token, actor=request.user)
        if token.user_id == request.user.pk:
            messages.success(request, f"Token “{token.name}” revoked; it no longer works.")
            return redirect("account-tokens")
        messages.success(
            request,
            f"Token “{token.name}” of {token.user.get_username()} revoked; it no longer works.",
        )
        return redirect("account-tokens-all")
