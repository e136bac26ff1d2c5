"""Page forms of the costs app. They validate input; the services write."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat

from costs.models import BillMapping, CostCenter
from metrics.forms import validate_import_upload
from pilots.models import Backend

__all__ = [
    "BillMappingForm",
    "BillUploadForm",
    "MapUnmappedForm",
    "PeriodForm",
    "UnmatchedPeriodForm",
]


class BillUploadForm(forms.Form):
    """Upload one FOCUS bill file."""

    file = forms.FileField(
        help_text="A FOCUS 1.0, 1.1 or 1.2 CSV export of a cloud or SaaS bill.",
        validators=[validate_import_upload],
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limit = filesizeformat(int(settings.IMPORT_MAX_UPLOAD_BYTES))
        self.fields["file"].help_text += f" At most {limit}."


class BillMappingForm(forms.Form):
    """A bill mapping rule; the service validates the pattern and the tag key."""

    order = forms.IntegerField(min_value=0, help_text="Rules are tried lowest first.")
    column = forms.ChoiceField(choices=BillMapping.Column.choices)
    tag_key = forms.CharField(
        max_length=200, required=False, help_text="With column Tags: the tag to match."
    )
    pattern = forms.CharField(
        max_length=500,
        help_text="A regular expression the whole value must match, e.g. arn:aws:ec2:.*",
    )
    backend = forms.ModelChoiceField(
        queryset=Backend.objects.order_by("name"),
        to_field_name="slug",
        help_text="The backend the matching rows are charged to.",
    )


class UnmatchedPeriodForm(forms.Form):
    """The billing period of the unmatched-rows page."""

    period = forms.RegexField(
        regex=r"^(?!0000)\d{4}-(0[1-9]|1[0-2])$",
        required=False,
        help_text="YYYY-MM; empty for every period.",
        error_messages={"invalid": "Give a month as YYYY-MM, e.g. 2024-09."},
    )


class PeriodForm(forms.Form):
    period = forms.RegexField(
        regex=r"^(?!0000)\d{4}-(0[1-9]|1[0-2])$",
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
