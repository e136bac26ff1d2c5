"""Forms of the metrics pages: the upload, the imports list filters and the
chart window. They validate input; the import service does the writing."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from metrics.models import ImportJob
from metrics.selectors import import_backends_for, import_pilots_for
from pilots.models import Backend, Pilot


def validate_import_upload(upload: Any) -> None:
    """The upload page's and the API's check of a metrics file: not empty,
    not over ``IMPORT_MAX_BYTES`` (the message says both sizes)."""
    limit = int(settings.IMPORT_MAX_BYTES)
    if upload.size > limit:
        raise ValidationError(
            f"The file is {upload.size:,} bytes; the limit is {limit:,} bytes (IMPORT_MAX_BYTES).",
            code="too_large",
        )
    if upload.size == 0:
        raise ValidationError("The file is empty.", code="empty")


class ImportUploadForm(forms.Form):
    """Upload one metrics file for a backend (and optionally a pilot)."""

    file = forms.FileField(
        help_text="Prometheus text / OpenMetrics, query_range JSON, or CSV "
        "(timestamp, metric, value, labels).",
        validators=[validate_import_upload],
    )
    backend = forms.ModelChoiceField(
        queryset=Backend.objects.filter(is_active=True).order_by("name"),
        to_field_name="slug",
        help_text="The backend the samples were measured on.",
    )
    pilot = forms.ModelChoiceField(
        queryset=Pilot.objects.select_related("candidate_backend", "baseline_backend").order_by(
            "name"
        ),
        required=False,
        help_text="Optional: tag the samples with a pilot using this backend.",
    )
    format = forms.ChoiceField(
        choices=ImportJob.Format.choices,
        initial=ImportJob.Format.AUTO,
        required=False,
        help_text="Leave on 'Detect from content' unless detection picks the wrong one.",
    )

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limit = filesizeformat(int(settings.IMPORT_MAX_BYTES))
        self.fields["file"].help_text += f" At most {limit}."
        if user is not None:
            # Only where this user may import (the service checks again).
            backend_field = self.fields["backend"]
            pilot_field = self.fields["pilot"]
            assert isinstance(backend_field, forms.ModelChoiceField)
            assert isinstance(pilot_field, forms.ModelChoiceField)
            backend_field.queryset = import_backends_for(user).order_by("name")
            pilot_field.queryset = (
                import_pilots_for(user)
                .select_related("candidate_backend", "baseline_backend")
                .order_by("name")
            )

    def clean_format(self) -> str:
        """An empty choice means detect from content."""
        return str(self.cleaned_data.get("format") or ImportJob.Format.AUTO)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        backend: Backend | None = cleaned.get("backend")
        pilot: Pilot | None = cleaned.get("pilot")
        if backend is not None and pilot is not None and not pilot.runs_on(backend):
            self.add_error(
                "pilot",
                f"Pilot {pilot} runs on {pilot.candidate_backend} (candidate) and "
                f"{pilot.baseline_backend} (baseline), not on {backend}.",
            )
        return cleaned


class ChartWindowForm(forms.Form):
    """The chart window: a preset span ending at the latest data, or custom."""

    PRESETS: dict[str, dt.timedelta] = {
        "24h": dt.timedelta(hours=24),
        "7d": dt.timedelta(days=7),
        "30d": dt.timedelta(days=30),
    }
    window = forms.ChoiceField(
        choices=[
            ("24h", "Last 24 hours"),
            ("7d", "Last 7 days"),
            ("30d", "Last 30 days"),
            ("custom", "Custom"),
        ],
        initial="7d",
        required=False,
    )
    start = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="UTC",
    )
    end = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="UTC",
    )

    MAX_SPAN = dt.timedelta(days=366)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if (cleaned.get("window") or "7d") != "custom":
            return cleaned
        start, end = cleaned.get("start"), cleaned.get("end")
        if start is None:
            self.add_error("start", "A custom window needs a start.")
        if end is None:
            self.add_error("end", "A custom window needs an end.")
        if start is not None and end is not None:
            if end <= start:
                self.add_error("end", "The end must be after the start.")
            elif end - start > self.MAX_SPAN:
                self.add_error("end", "A window spans at most 366 days.")
        return cleaned

    def is_custom(self) -> bool:
        return self.is_bound and self.is_valid() and self.cleaned_data.get("window") == "custom"

    def resolve(self, *, latest: dt.datetime | None) -> tuple[dt.datetime, dt.datetime] | None:
        """The (start, end) to chart, or None when there is no data to anchor
        a preset on. Presets end with the hour of the latest data (not at
        "now"), so a backend that stopped reporting still shows its last week."""
        if self.is_custom():
            return _aware(self.cleaned_data["start"]), _aware(self.cleaned_data["end"])
        if latest is None:
            return None
        choice = (self.cleaned_data.get("window") if self.is_bound else None) or "7d"
        end = latest.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0) + HOUR
        return end - self.PRESETS[choice], end


HOUR = dt.timedelta(hours=1)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if timezone.is_aware(value) else timezone.make_aware(value, dt.UTC)
