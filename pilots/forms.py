"""Page forms. They validate input; the services do the writing."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms

from pilots import services
from pilots.models import (
    Backend,
    ExitCriterion,
    Phase,
    Pilot,
    RaciActivity,
    RaciAssignment,
    ReadinessAnswer,
)


class DateInput(forms.DateInput):
    input_type = "date"


class PilotForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Pilot
        fields = [
            "name",
            "model_name",
            "candidate_backend",
            "baseline_backend",
            "team",
            "cost_center",
            "traffic_slice",
            "target_start",
            "target_end",
            "description",
        ]
        widgets = {
            "target_start": DateInput(),
            "target_end": DateInput(),
            # The code is typed, as before cost centers were records.
            "cost_center": forms.TextInput(),
        }
        help_texts = {"cost_center": "Cost center code, e.g. CC-4100."}
        error_messages = {
            "cost_center": {"invalid_choice": "No cost center has this code; finance adds them."}
        }

    def __init__(self, *args: Any, backends_locked: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        backends = Backend.objects.filter(is_active=True).select_related("vendor")
        for name in ("candidate_backend", "baseline_backend"):
            field = self.fields[name]
            assert isinstance(field, forms.ModelChoiceField)
            field.queryset = backends
            if backends_locked:
                # Shown, not editable: the service refuses a change anyway.
                # All backends, so a retired one still shows as the value.
                field.queryset = Backend.objects.select_related("vendor")
                field.disabled = True
                field.help_text = "Fixed: a phase of this pilot has run on it."

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        candidate, baseline = data.get("candidate_backend"), data.get("baseline_backend")
        if candidate is not None and candidate == baseline:
            self.add_error("baseline_backend", "The baseline must be a different backend.")
        start, end = data.get("target_start"), data.get("target_end")
        if start and end and end < start:
            self.add_error("target_end", "The target end cannot be before the target start.")
        return data


class PhaseForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Phase
        fields = ["kind", "name", "order", "planned_start", "planned_end", "traffic_percent"]
        widgets = {"planned_start": DateInput(), "planned_end": DateInput()}
        help_texts = {"order": "Position in the plan; leave empty to put the phase last."}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is None:
            self.fields["order"].required = False

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("planned_start"), data.get("planned_end")
        if start and end and end < start:
            self.add_error("planned_end", "The planned end cannot be before the planned start.")
        return data


def is_percentage(metric: str | None, comparison: str | None) -> bool:
    """An absolute error rate: stored as a fraction (0.005), shown and
    entered on pages as a percentage (0.5 %)."""
    return metric == ExitCriterion.Metric.ERROR_RATE and (
        comparison == ExitCriterion.Comparison.ABSOLUTE
    )


# A percentage with more places would need more than the 6 the threshold stores.
PERCENT_PLACES = 4


class ExitCriterionForm(forms.ModelForm):  # type: ignore[type-arg]
    """An exit criterion. The threshold of an absolute error rate is a
    percentage here (0.5 means 0.5 %) and a fraction for the service."""

    class Meta:
        model = ExitCriterion
        fields = ["metric", "comparison", "direction", "threshold", "critical", "weight"]
        help_texts = {
            "threshold": (
                "Latencies in seconds; an error rate as a percentage (0.5 means 0.5 %); "
                "for a ratio to baseline, 1.0 means 'as good as baseline'."
            ),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["weight"].widget.attrs["min"] = 1
        instance = self.instance
        if instance.pk is not None and is_percentage(instance.metric, instance.comparison):
            self.initial["threshold"] = format((instance.threshold * 100).normalize(), "f")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        metric, comparison = data.get("metric"), data.get("comparison")
        threshold: Decimal | None = data.get("threshold")
        weight = services.criterion_problems(
            metric="", comparison="", threshold=None, weight=data.get("weight")
        )
        for name, message in weight.items():
            self.add_error(name, message)
        if threshold is None or not metric or not comparison:
            return data
        if is_percentage(metric, comparison):
            exponent = threshold.as_tuple().exponent
            if not Decimal(0) <= threshold <= Decimal(100):
                self.add_error(
                    "threshold",
                    "An error rate is a percentage between 0 and 100 (0.5 means 0.5 %).",
                )
                return data
            if isinstance(exponent, int) and -exponent > PERCENT_PLACES:
                self.add_error(
                    "threshold",
                    f"Give the percentage with at most {PERCENT_PLACES} decimal places.",
                )
                return data
            data["threshold"] = threshold / 100
        problems = services.criterion_problems(
            metric=metric,
            comparison=comparison,
            threshold=data["threshold"],
            weight=None,
        )
        for name, message in problems.items():
            if name not in self.errors:
                self.add_error(name, message)
        return data


class ActivityForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = RaciActivity
        fields = ["name"]
        labels = {"name": "New activity"}


def person_label(person: Any) -> str:
    """How a person reads in the RACI pickers: the name and the username,
    both searchable."""
    full = person.get_full_name()
    return f"{full} ({person.username})" if full else str(person.username)


@dataclass(frozen=True)
class RaciCell:
    """One letter of one activity: the picker and who it holds now (the
    bound value, so a grid shown again keeps what was chosen)."""

    letter: str
    label: str
    field: forms.BoundField
    chosen: list[str]


class RaciMatrixForm(forms.Form):
    """The RACI grid: a row per activity, a column per letter, and in each
    cell the people holding that letter, picked from a searchable list
    (fields ``raci-<activity>-<letter>``, values user ids). The grid scales
    with people: four pickers per activity, however many people there are.

    The hidden ``grid`` field marks a POST that carries the grid, so the
    add/remove-activity commands know they may show it again unsaved."""

    LETTERS: tuple[tuple[str, str], ...] = tuple(RaciAssignment.Letter.choices)

    grid = forms.CharField(widget=forms.HiddenInput, required=False, initial="1")

    def __init__(
        self,
        *args: Any,
        activities: list[RaciActivity],
        people: list[Any],
        letters: dict[tuple[int, int], str],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.activities = activities
        self.people = people
        self.labels = {str(p.pk): person_label(p) for p in people}
        # One list shared by every picker: 60 people x 20 pickers stay cheap.
        choices = list(self.labels.items())
        self.row_errors: dict[str, list[str]] = {}
        for activity in activities:
            for letter, label in self.LETTERS:
                holders = [
                    str(uid)
                    for (aid, uid), held in letters.items()
                    if aid == activity.pk and held == letter
                ]
                self.fields[self.cell_name(activity.pk, letter)] = forms.MultipleChoiceField(
                    choices=choices,
                    required=False,
                    initial=holders,
                    label=f"{activity.name}: {label}",
                    widget=forms.SelectMultiple(
                        attrs={
                            "aria-label": f"{activity.name}: {label} ({letter})",
                            "class": "people-picker",
                            "size": "5",
                        }
                    ),
                )

    @staticmethod
    def cell_name(activity_id: int, letter: str) -> str:
        return f"raci-{activity_id}-{letter}"

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for activity in self.activities:
            seen: dict[str, str] = {}
            for letter, _ in self.LETTERS:
                for uid in data.get(self.cell_name(activity.pk, letter)) or []:
                    if uid in seen:
                        self.row_errors.setdefault(str(activity.pk), []).append(
                            f"{self.labels[uid]} is chosen as both {seen[uid]} and {letter} for "
                            f"{activity.name}: a person holds one letter per activity."
                        )
                    else:
                        seen[uid] = letter
        if self.row_errors:
            raise forms.ValidationError("A person holds one letter per activity.")
        return data

    def matrix(self) -> dict[int, dict[int, str | None]]:
        """``{activity_id: {user_id: letter or None}}`` for the service: every
        person of the grid, so whoever is in no picker loses their letter."""
        result: dict[int, dict[int, str | None]] = {}
        for activity in self.activities:
            cells: dict[int, str | None] = {person.pk: None for person in self.people}
            for letter, _ in self.LETTERS:
                for uid in self.cleaned_data.get(self.cell_name(activity.pk, letter)) or []:
                    cells[int(uid)] = letter
            result[activity.pk] = cells
        return result

    def rows(self) -> list[tuple[RaciActivity, list[RaciCell]]]:
        rows: list[tuple[RaciActivity, list[RaciCell]]] = []
        for activity in self.activities:
            cells = []
            for letter, label in self.LETTERS:
                bound = self[self.cell_name(activity.pk, letter)]
                value = bound.value() or []
                chosen = [self.labels[str(v)] for v in value if str(v) in self.labels]
                cells.append(RaciCell(letter=letter, label=label, field=bound, chosen=chosen))
            rows.append((activity, cells))
        return rows


class ReadinessForm(forms.Form):
    """The five questions, each an answer and an evidence note."""

    def __init__(self, *args: Any, answers: list[ReadinessAnswer], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.answers = answers
        for row in answers:
            self.fields[f"answer-{row.question}"] = forms.ChoiceField(
                choices=ReadinessAnswer.Answer.choices,
                initial=row.answer,
                label=row.get_question_display(),
                widget=forms.RadioSelect,
            )
            self.fields[f"evidence-{row.question}"] = forms.CharField(
                required=False,
                initial=row.evidence,
                label="Evidence",
                widget=forms.Textarea(attrs={"rows": 2, "placeholder": "A note or a link"}),
            )

    def rows(self) -> list[tuple[ReadinessAnswer, forms.BoundField, forms.BoundField]]:
        return [
            (row, self[f"answer-{row.question}"], self[f"evidence-{row.question}"])
            for row in self.answers
        ]

    def answers_data(self) -> list[tuple[str, str, str]]:
        return [
            (
                row.question,
                self.cleaned_data[f"answer-{row.question}"],
                self.cleaned_data[f"evidence-{row.question}"].strip(),
            )
            for row in self.answers
        ]
