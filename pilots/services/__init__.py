"""Writes to the pilot domain. Every function is keyword-only, atomic, runs
full_clean() before saving and records a ChangeRecord in the pilot's scope.
Rules refused here raise ``DomainError`` (a ValidationError)."""

from pilots.services._common import DomainError, TransitionError
from pilots.services.phases import (
    DEFAULT_PLAN,
    MIN_DEFAULT_PHASE_DAYS,
    TRANSITIONS,
    criterion_problems,
    default_plan_lengths,
    exit_criterion_add,
    exit_criterion_remove,
    exit_criterion_update,
    next_startable_phase,
    phase_create,
    phase_extend,
    phase_fail,
    phase_pass,
    phase_plan_defaults,
    phase_plan_warnings,
    phase_remove,
    phase_reorder,
    phase_skip,
    phase_start,
    phase_update,
)
from pilots.services.pilots import (
    BACKEND_FIELDS,
    DEFAULT_ACTIVITIES,
    backends_locked,
    pilot_create,
    pilot_update,
)
from pilots.services.raci import accountable_for, activity_add, activity_remove, raci_set_matrix
from pilots.services.readiness import (
    Recommendation,
    readiness_answer,
    readiness_recommendation,
    readiness_save,
)

__all__ = [
    "BACKEND_FIELDS",
    "DEFAULT_ACTIVITIES",
    "DEFAULT_PLAN",
    "MIN_DEFAULT_PHASE_DAYS",
    "TRANSITIONS",
    "DomainError",
    "Recommendation",
    "TransitionError",
    "accountable_for",
    "activity_add",
    "activity_remove",
    "backends_locked",
    "criterion_problems",
    "default_plan_lengths",
    "exit_criterion_add",
    "exit_criterion_remove",
    "exit_criterion_update",
    "next_startable_phase",
    "phase_create",
    "phase_extend",
    "phase_fail",
    "phase_pass",
    "phase_plan_defaults",
    "phase_plan_warnings",
    "phase_remove",
    "phase_reorder",
    "phase_skip",
    "phase_start",
    "phase_update",
    "pilot_create",
    "pilot_update",
    "raci_set_matrix",
    "readiness_answer",
    "readiness_recommendation",
    "readiness_save",
]
