"""Forms of the review pages: the decision, an objection, a resolution;
a pilot's review settings and its outgoing webhooks."""

from __future__ import annotations

from typing import Any

from django import forms

__all__ = [
    "DecisionForm",
    "ObjectionForm",
    "ResolveForm",
    "ReviewSettingsForm",
    "WebhookForm",
]


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("approved", "Approve"), ("rejected", "Reject")], widget=forms.RadioSelect
    )
    rationale = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    override_reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text="Required to approve a fail or insufficient_data verdict.",
    )


class ObjectionForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label="Objection")


class ResolveForm(forms.Form):
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), label="Resolution note")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)


class ReviewSettingsForm(forms.Form):
    """The score thresholds of the overall verdict and the evidence's
    parameters (the service checks them against each other)."""

    pass_score = forms.FloatField(
        min_value=0, max_value=100, help_text="Pass when the score is at least this (0 to 100)."
    )
    marginal_score = forms.FloatField(
        min_value=0,
        max_value=100,
        help_text="Marginal when at least this and under the pass score; fail below.",
    )
    resamples = forms.IntegerField(
        min_value=1000, help_text="Bootstrap resamples of the CIs (1000 at least)."
    )
    temperature_limit = forms.FloatField(
        required=False,
        label="Device temperature limit (°C)",
        help_text="Where the vendor gives one: the thermal red flag fires within 5 °C of it.",
    )


class WebhookForm(forms.Form):
    """A webhook's URL (on a host the platform admins allow), its signing
    secret (write-only: never shown again) and whether it is on."""

    url = forms.URLField(max_length=500, assume_scheme="https", label="URL")
    secret = forms.CharField(
        max_length=200,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Signs each delivery (HMAC-SHA256); the receiver checks it.",
    )
    active = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            self.fields["secret"].required = False
            self.fields["secret"].help_text = "Leave empty to keep the current secret."
