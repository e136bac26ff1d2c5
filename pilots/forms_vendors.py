"""Forms of the vendor, contract, incident and spares pages. They validate
input; the services decide and save."""

from __future__ import annotations

from typing import Any

from django import forms

from pilots.forms import DateInput
from pilots.models import Backend, Contract, Incident, MovementKind, Part, Site, Vendor

__all__ = ["ContractForm", "IncidentForm", "MovementForm", "VendorRiskForm"]


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"


class VendorRiskForm(forms.ModelForm):  # type: ignore[type-arg]
    """Support contacts and the risk answers (each stamped on save)."""

    website = forms.URLField(required=False, assume_scheme="https")

    class Meta:
        model = Vendor
        fields = [
            "contact_email",
            "website",
            "support_contacts",
            "roadmap_confidence",
            "business_health",
            "escrowed_source",
            "multi_vendor_fallback",
            "risk_notes",
        ]
        widgets = {
            "escrowed_source": forms.NullBooleanSelect(),
            "multi_vendor_fallback": forms.NullBooleanSelect(),
            "support_contacts": forms.Textarea(attrs={"rows": 3}),
            "risk_notes": forms.Textarea(attrs={"rows": 3}),
        }


class ContractForm(forms.ModelForm):  # type: ignore[type-arg]
    backends = forms.ModelMultipleChoiceField(
        queryset=Backend.objects.order_by("name"), required=False
    )

    class Meta:
        model = Contract
        fields = [
            "vendor",
            "reference",
            "backends",
            "start",
            "end",
            "notice_days",
            "auto_renewal",
            "renewal_term_months",
            "fee",
            "fee_period",
            "replacement_hours",
            "response_hours",
            "firmware_cadence_days",
            "patch_window_days",
            "uptime_percent",
            "support_tier",
            "credit_percent",
            "credit_basis",
            "credit_cap_percent",
        ]
        widgets = {"start": DateInput(), "end": DateInput()}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            self.add_error("end", "The end cannot be before the start.")
        return data


class IncidentForm(forms.ModelForm):  # type: ignore[type-arg]
    backends = forms.ModelMultipleChoiceField(
        queryset=Backend.objects.none(), required=False, help_text="Outages only."
    )

    class Meta:
        model = Incident
        fields = [
            "kind",
            "opened_at",
            "resolved_at",
            "part",
            "unit_serial",
            "backends",
            "external_ref",
            "summary",
        ]
        widgets = {"opened_at": DateTimeInput(), "resolved_at": DateTimeInput()}

    def __init__(self, *args: Any, contract: Contract, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        backends = self.fields["backends"]
        assert isinstance(backends, forms.ModelMultipleChoiceField)
        backends.queryset = contract.backends.order_by("name")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        opened, resolved = data.get("opened_at"), data.get("resolved_at")
        if opened and resolved and resolved < opened:
            self.add_error("resolved_at", "An incident cannot be resolved before it opened.")
        return data


class MovementForm(forms.Form):
    part = forms.ModelChoiceField(queryset=Part.objects.order_by("part_number"))
    site = forms.ModelChoiceField(queryset=Site.objects.order_by("name"))
    kind = forms.ChoiceField(choices=MovementKind.choices)
    quantity = forms.IntegerField(min_value=1)
    to_site = forms.ModelChoiceField(
        queryset=Site.objects.order_by("name"), required=False, help_text="Transfers only."
    )
    note = forms.CharField(max_length=300, required=False)
