"""Page forms. They validate input; the services do the writing."""

from __future__ import annotations

from typing import Any

from django import forms

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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        backends = Backend.objects.filter(is_active=True).select_related("vendor")
        for name in ("candidate_backend", "baseline_backend"):
            field = self.fields[name]
            assert isinstance(field, forms.ModelChoiceField)
            field.queryset = backends

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


class ExitCriterionForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = ExitCriterion
        fields = ["metric", "comparison", "direction", "threshold", "critical", "weight"]
        help_texts = {
            "threshold": "For a ratio to baseline, 1.0 means 'as good as baseline'.",
        }


class ActivityForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = RaciActivity
        fields = ["name"]
        labels = {"name": "New activity"}


class RaciMatrixForm(forms.Form):
    """One select per (activity, person) cell, named ``cell-<activity>-<user>``."""

    def __init__(
        self,
        *args: Any,
        activities: list[RaciActivity],
        people: list[Any],
        letters: dict[tuple[int, int], str],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        # Letters only: a matrix of full words does not fit a laptop screen.
        choices = [("", "·"), *((v, v) for v in RaciAssignment.Letter.values)]
        self.activities = activities
        self.people = people
        for activity in activities:
            for person in people:
                self.fields[self.cell_name(activity.pk, person.pk)] = forms.ChoiceField(
                    choices=choices,
                    required=False,
                    initial=letters.get((activity.pk, person.pk), ""),
                    label=f"{activity.name} / {person}",
                    widget=forms.Select(attrs={"aria-label": f"{activity.name}: {person}"}),
                )

    @staticmethod
    def cell_name(activity_id: int, user_id: int) -> str:
        return f"cell-{activity_id}-{user_id}"

    def matrix(self) -> dict[int, dict[int, str | None]]:
        """``{activity_id: {user_id: letter or None}}`` for the service."""
        result: dict[int, dict[int, str | None]] = {}
        for activity in self.activities:
            cells: dict[int, str | None] = {}
            for person in self.people:
                value = self.cleaned_data.get(self.cell_name(activity.pk, person.pk)) or None
                cells[person.pk] = value
            result[activity.pk] = cells
        return result

    def rows(self) -> list[tuple[RaciActivity, list[forms.BoundField]]]:
        return [
            (activity, [self[self.cell_name(activity.pk, p.pk)] for p in self.people])
            for activity in self.activities
        ]


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
