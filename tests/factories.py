"""Shared factory_boy factories. Other test packages import these; keep the
defaults valid (candidate differs from baseline, dates in order)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from pilots.models import (
    Backend,
    ExitCriterion,
    Phase,
    Pilot,
    RaciActivity,
    RaciAssignment,
    ReadinessAnswer,
    Vendor,
)


class UserFactory(factory.django.DjangoModelFactory):
    """A user; pass ``roles=[Role.FINANCE, ...]`` to put them in role groups
    (the groups must exist: use the ``roles`` fixture or sync_role_groups())."""

    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password("pw-factory")

    @factory.post_generation
    def roles(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted:
            self.groups.set(Group.objects.filter(name__in=list(extracted)))


class VendorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Vendor
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Vendor {n}")
    slug = factory.Sequence(lambda n: f"vendor-{n}")


class BackendFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Backend
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Backend {n}")
    slug = factory.Sequence(lambda n: f"backend-{n}")
    kind = Backend.Kind.GPU_CLUSTER
    vendor = factory.SubFactory(VendorFactory)
    device_model = "H100 SXM"
    device_count = 8
    site = "dc-1"
    region = "eu-west"


class PilotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Pilot

    name = factory.Sequence(lambda n: f"Pilot {n}")
    model_name = "llama-3-70b"
    candidate_backend = factory.SubFactory(BackendFactory, kind=Backend.Kind.WAFER_SCALE)
    baseline_backend = factory.SubFactory(BackendFactory)
    team = "search"
    cost_center = "CC-100"
    traffic_slice = "chat, EU"
    target_start = dt.date(2026, 1, 5)
    target_end = dt.date(2026, 6, 30)


class PhaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Phase

    pilot = factory.SubFactory(PilotFactory)
    kind = Phase.Kind.LAB_VALIDATION
    order = factory.Sequence(lambda n: n + 1)
    planned_start = dt.date(2026, 1, 5)
    planned_end = factory.LazyAttribute(lambda p: p.planned_start + dt.timedelta(weeks=4))
    traffic_percent = Decimal("0")


class ExitCriterionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ExitCriterion

    phase = factory.SubFactory(PhaseFactory)
    metric = ExitCriterion.Metric.E2E_LATENCY_P99
    comparison = ExitCriterion.Comparison.RELATIVE
    direction = ExitCriterion.Direction.AT_MOST
    threshold = Decimal("1.0")


class RaciActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RaciActivity

    pilot = factory.SubFactory(PilotFactory)
    name = factory.Sequence(lambda n: f"Activity {n}")
    order = factory.Sequence(lambda n: n + 10)


class RaciAssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RaciAssignment

    activity = factory.SubFactory(RaciActivityFactory)
    user = factory.SubFactory(UserFactory)
    letter = RaciAssignment.Letter.RESPONSIBLE


class ReadinessAnswerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReadinessAnswer

    pilot = factory.SubFactory(PilotFactory)
    question = ReadinessAnswer.Question.STEADY_QPS
    answer = ReadinessAnswer.Answer.UNKNOWN
