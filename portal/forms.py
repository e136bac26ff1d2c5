"""Forms of the account pages, and the one helper every app's forms use to
show a service's refusal."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from portal.api import unknown_fields
from portal.tokens import MAX_TOKEN_DAYS


class RejectUnknownFieldsForm(forms.Form):
    """A posted field the form does not have is an error naming it (the page
    answers 400), not silently ignored."""

    @property
    def unknown_fields(self) -> list[str]:
        return unknown_fields(self.data, self.fields) if self.is_bound else []

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        unknown = self.unknown_fields
        if unknown:
            plural = "s" if len(unknown) > 1 else ""
            raise ValidationError(
                f"Unknown field{plural}: {', '.join(unknown)}; "
                f"this form accepts: {', '.join(self.fields)}."
            )
        return cleaned


class TokenCreateForm(RejectUnknownFieldsForm):
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


def apply_service_error(form: forms.BaseForm, error: ValidationError) -> None:
    """Show a service's ValidationError on the form: next to the field it
    names when the form has that field, at the top otherwise."""
    if hasattr(error, "error_dict"):
        for field, messages in error.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
    else:
        form.add_error(None, error.messages)
