"""Shared factory_boy factories. Other test packages import these; keep the
defaults valid (candidate differs from baseline, dates in order)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, User
from factory.declarations import LazyAttribute, PostGeneration, Sequence, SubFactory
from factory.django import DjangoModelFactory, Password
from factory.faker import Faker

from costs.models import CostCenter
from metrics.models import HourlyRollup, ImportJob, MetricDefinition, MetricSource, Series
from metrics.storage import series_key_hash
from pilots.models import (
    Backend,
    ExitCriterion,
    Phase,
    Pilot,
    RaciActivity,
    RaciAssignment,
    ReadinessAnswer,
    Site,
    Vendor,
)


def _set_roles(obj: User, create: bool, extracted: Any, **kwargs: Any) -> None:
    if create and extracted:
        obj.groups.set(Group.objects.filter(name__in=list(extracted)))


class UserFactory(DjangoModelFactory[User]):
    """A user; pass ``roles=[Role.FINANCE, ...]`` to put them in role groups
    (the groups must exist: use the ``roles`` fixture or sync_role_groups())."""

    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = Sequence(lambda n: f"user{n}")
    email = LazyAttribute(lambda u: f"{u.username}@example.com")
    first_name = Faker("first_name")
    last_name = Faker("last_name")
    password = Password("pw-factory")

    roles = PostGeneration(_set_roles)


class VendorFactory(DjangoModelFactory[Vendor]):
    class Meta:
        model = Vendor
        django_get_or_create = ("slug",)

    name = Sequence(lambda n: f"Vendor {n}")
    slug = Sequence(lambda n: f"vendor-{n}")


class SiteFactory(DjangoModelFactory[Site]):
    class Meta:
        model = Site
        django_get_or_create = ("slug",)

    slug = "dc-1"
    name = LazyAttribute(lambda s: s.slug)


class BackendFactory(DjangoModelFactory[Backend]):
    class Meta:
        model = Backend
        django_get_or_create = ("slug",)

    name = Sequence(lambda n: f"Backend {n}")
    slug = Sequence(lambda n: f"backend-{n}")
    kind = Backend.Kind.GPU_CLUSTER
    vendor = SubFactory(VendorFactory)
    device_model = "H100 SXM"
    device_count = 8
    site = SubFactory(SiteFactory)
    region = "eu-west"


class CostCenterFactory(DjangoModelFactory[CostCenter]):
    """A cost center, got or created by code (pilots refer to it by code)."""

    class Meta:
        model = CostCenter
        django_get_or_create = ("code",)

    code = Sequence(lambda n: f"CC-{1000 + n}")
    name = LazyAttribute(lambda c: f"Cost center {c.code}")


class PilotFactory(DjangoModelFactory[Pilot]):
    class Meta:
        model = Pilot

    name = Sequence(lambda n: f"Pilot {n}")
    model_name = "llama-3-70b"
    candidate_backend = SubFactory(BackendFactory, kind=Backend.Kind.WAFER_SCALE)
    baseline_backend = SubFactory(BackendFactory)
    team = "search"
    cost_center = SubFactory(CostCenterFactory, code="CC-100")
    traffic_slice = "chat, EU"
    target_start = dt.date(2026, 1, 5)
    target_end = dt.date(2026, 6, 30)


class PhaseFactory(DjangoModelFactory[Phase]):
    class Meta:
        model = Phase

    pilot = SubFactory(PilotFactory)
    kind = Phase.Kind.LAB_VALIDATION
    order = Sequence(lambda n: n + 1)
    planned_start = dt.date(2026, 1, 5)
    planned_end = LazyAttribute(lambda p: p.planned_start + dt.timedelta(weeks=4))
    traffic_percent = Decimal("0")


class ExitCriterionFactory(DjangoModelFactory[ExitCriterion]):
    class Meta:
        model = ExitCriterion

    phase = SubFactory(PhaseFactory)
    metric = ExitCriterion.Metric.E2E_LATENCY_P99
    comparison = ExitCriterion.Comparison.RELATIVE
    direction = ExitCriterion.Direction.AT_MOST
    threshold = Decimal("1.0")


class RaciActivityFactory(DjangoModelFactory[RaciActivity]):
    class Meta:
        model = RaciActivity

    pilot = SubFactory(PilotFactory)
    name = Sequence(lambda n: f"Activity {n}")
    order = Sequence(lambda n: n + 10)


class RaciAssignmentFactory(DjangoModelFactory[RaciAssignment]):
    class Meta:
        model = RaciAssignment

    activity = SubFactory(RaciActivityFactory)
    user = SubFactory(UserFactory)
    letter = RaciAssignment.Letter.RESPONSIBLE


class ReadinessAnswerFactory(DjangoModelFactory[ReadinessAnswer]):
    class Meta:
        model = ReadinessAnswer

    pilot = SubFactory(PilotFactory)
    question = ReadinessAnswer.Question.STEADY_QPS
    answer = ReadinessAnswer.Answer.UNKNOWN


# --- metrics -------------------------------------------------------------------


class MetricDefinitionFactory(DjangoModelFactory[MetricDefinition]):
    """A canonical metric; the catalogue's own rows come from its data migration
    (get-or-create by name, so a factory row never duplicates one)."""

    class Meta:
        model = MetricDefinition
        django_get_or_create = ("name",)

    name = Sequence(lambda n: f"test_metric_{n}")
    unit = ""
    kind = MetricDefinition.Kind.COUNTER


def _series_hash(series: Any) -> str:
    labels = tuple(sorted((str(k), str(v)) for k, v in (series.labels or {}).items()))
    key = (series.metric.pk, series.component, series.le, labels)
    pilot_id = series.pilot.pk if series.pilot is not None else None
    return series_key_hash(series.backend.pk, pilot_id, key)


class SeriesFactory(DjangoModelFactory[Series]):
    class Meta:
        model = Series

    backend = SubFactory(BackendFactory)
    metric = SubFactory(MetricDefinitionFactory)
    pilot = None
    component = Series.Component.VALUE
    le = None
    labels = LazyAttribute(lambda s: {})
    key_hash = LazyAttribute(_series_hash)


class HourlyRollupFactory(DjangoModelFactory[HourlyRollup]):
    """One hour of one series: ``count`` samples from ``first`` to ``last``."""

    class Meta:
        model = HourlyRollup

    series = SubFactory(SeriesFactory)
    hour = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
    count = 60
    first = 0.0
    last = 60.0
    min = LazyAttribute(lambda r: min(r.first, r.last))
    max = LazyAttribute(lambda r: max(r.first, r.last))
    sum = LazyAttribute(lambda r: (r.first + r.last) / 2 * r.count)
    first_ts = LazyAttribute(lambda r: r.hour)
    last_ts = LazyAttribute(lambda r: r.hour + dt.timedelta(minutes=59))
    increase = LazyAttribute(lambda r: r.last - r.first)


class ImportJobFactory(DjangoModelFactory[ImportJob]):
    class Meta:
        model = ImportJob

    backend = SubFactory(BackendFactory)
    pilot = None
    format = ImportJob.Format.PROMETHEUS_TEXT
    source = ImportJob.Source.UPLOAD
    file_path = Sequence(lambda n: f"imports/test-{n}.prom")
    original_filename = "scrape.prom"
    scrape_time = dt.datetime(2026, 1, 5, 12, tzinfo=dt.UTC)
    status = ImportJob.Status.QUEUED


class MetricSourceFactory(DjangoModelFactory[MetricSource]):
    class Meta:
        model = MetricSource

    name = Sequence(lambda n: f"Prometheus {n}")
    backend = SubFactory(BackendFactory)
    base_url = "http://127.0.0.1:9090"
    queries = LazyAttribute(lambda s: ["vllm:generation_tokens_total"])
