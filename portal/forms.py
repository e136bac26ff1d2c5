"""Forms of the account pages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from portal.tokens import MAX_TOKEN_DAYS


class TokenCreateForm(forms.Form):
    """Name and lifetime of a new personal API token."""

    name = forms.CharField(
        max_length=100,
        help_text="What uses it, e.g. 'CI metrics push' or 'my laptop'.",
    )
    days = forms.IntegerField(
        label="Expires in (days)",
        min_value=1,
        max_value=MAX_TOKEN_DAYS,
        help_text=f"Between 1 and {MAX_TOKEN_DAYS} days.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Read at request time so tests and deployments can change the setting.
        self.fields["days"].initial = settings.API_TOKEN_DEFAULT_DAYS
