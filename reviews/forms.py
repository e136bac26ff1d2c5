"""Forms of the review page: the decision, an objection, a resolution."""

from __future__ import annotations

from typing import Any

from django import forms

__all__ = ["DecisionForm", "ObjectionForm", "ResolveForm"]


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
