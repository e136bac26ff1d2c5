"""Page forms of the costs app. They validate input; the services write."""

from __future__ import annotations

from django import forms

from costs.models import CostCenter

__all__ = ["MapUnmappedForm", "PeriodForm"]


class PeriodForm(forms.Form):
    period = forms.RegexField(
        regex=r"^\d{4}-(0[1-9]|1[0-2])$",
        required=False,
        label="Month",
        widget=forms.TextInput(attrs={"type": "month"}),
        error_messages={"invalid": "Use YYYY-MM, e.g. 2026-11."},
    )


class MapUnmappedForm(forms.Form):
    """One click on the unmapped-usage page: this label value → that cost center."""

    label = forms.CharField(max_length=100)
    value = forms.CharField(max_length=200)
    cost_center = forms.ModelChoiceField(
        queryset=CostCenter.objects.filter(is_active=True), to_field_name="code"
    )
    order = forms.IntegerField(initial=100, required=False)
    period = forms.CharField(required=False)
