"""Every URL name x every persona: who may see what.

The URL list is walked from the resolver at collection time, so a URL added
anywhere in the project is tested without touching this file, as long as it
is an ordinary read page or endpoint that every role may GET. Anything else
needs an entry in ``EXPECTATIONS`` (one dict, keyed by URL name), and any
path parameter needs a value in ``KWARGS`` (or ``URL_KWARGS`` for a URL whose
parameter means something else): an unknown parameter fails the test with a
message saying what to add.

Rules checked, for a GET of every URL:
- anonymous: pages redirect to the login page; the API answers 401/403 JSON;
- outsider (logged in, no role): 403 (or 404), and the body names no pilot;
- each role: 200 on read pages and endpoints, 405 on POST-only command
  URLs, 403 on pages their role may not use (the table says which).
And for a POST: anonymous and the outsider never reach the view.
The admin site (``admin:*``) is tested by Django's own permission checks on
``is_staff``; the public probes and login/logout are listed in
``ALLOWED_PUBLIC``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from pilots.models import Backend, Phase
from portal.roles import Role, sync_role_groups
from portal.tokens import token_create
from tests.factories import (
    BackendFactory,
    CostCenterFactory,
    ExitCriterionFactory,
    PhaseFactory,
    PilotFactory,
    RaciActivityFactory,
    UserFactory,
    VendorFactory,
)

# URL names nobody needs to log in for.
ALLOWED_PUBLIC = frozenset({"healthz", "readyz", "login", "logout"})
# Static assets served by a view (no data in them).
ALLOWED_PUBLIC |= {"api-redoc-bundle"}
# Namespaces tested elsewhere: the admin site checks is_staff itself.
SKIPPED_NAMESPACES = frozenset({"admin"})

ALL_ROLES = frozenset(Role.values)
# Pilot write pages and commands: program managers, and platform admins who
# stand in for them.
PILOT_WRITERS = frozenset({Role.PROGRAM_MANAGER, Role.ADMIN})
# Metrics uploads: the pilot team pushes evidence; PMs and admins may too.
METRICS_UPLOADERS = frozenset({Role.PILOT_TEAM, Role.PROGRAM_MANAGER, Role.ADMIN})
# Costs writes (bills, bill mappings): finance, and platform admins.
COSTS_WRITERS = frozenset({Role.FINANCE, Role.ADMIN})

# Vendors, contracts, incidents and stock: procurement and platform admins.
VENDOR_WRITERS = frozenset({Role.PROCUREMENT, Role.ADMIN})

# Closing months, restating them, budgets: finance and admins.
COSTS_WRITERS = frozenset({Role.FINANCE, Role.ADMIN})

PILOT_NAME = "Zephyr Confidential Pilot"
BACKEND_NAME = "Zephyr Wafer System"


@dataclass(frozen=True)
class Access:
    """What each role gets on a GET of one URL name.

    ``roles``: the roles the view lets in; the others get 403.
    ``post_only``: a command URL; the roles let in get 405 on GET.
    ``fragment``: an HTMX fragment; anonymous may get 401/403 instead of a
    redirect (a login page swapped into a panel helps nobody).
    ``query``: GET parameters the URL needs to answer 200.
    """

    roles: frozenset[str] = ALL_ROLES
    post_only: bool = False
    fragment: bool = False
    query: tuple[tuple[str, str], ...] = ()
    # A page for people under /api/ (the API docs): anonymous goes to login.
    page: bool = False


READ = Access()
POST_ONLY = Access(post_only=True)
PILOT_WRITE_PAGE = Access(roles=PILOT_WRITERS)
PILOT_COMMAND = Access(roles=PILOT_WRITERS, post_only=True)

REVIEW_READERS = Access(roles=frozenset({Role.PROGRAM_MANAGER}))

# One entry per URL name that is not an ordinary read page/endpoint for every
# role (unlisted names get READ). Add new write pages and commands here.
EXPECTATIONS: dict[str, Access] = {
    # portal
    "account-token-revoke": READ,  # GET asks to confirm, POST revokes
    "account-tokens-all": Access(roles=frozenset({Role.ADMIN})),
    # pilots
    "pilot-create": PILOT_WRITE_PAGE,
    "pilot-edit": PILOT_WRITE_PAGE,
    "phase-create": PILOT_WRITE_PAGE,
    "phase-edit": PILOT_WRITE_PAGE,
    "criterion-create": PILOT_WRITE_PAGE,
    "criterion-edit": PILOT_WRITE_PAGE,
    "criterion-delete": PILOT_COMMAND,
    "pilot-plan-defaults": PILOT_COMMAND,
    "phase-start": PILOT_COMMAND,
    "raci-activity-add": PILOT_COMMAND,
    "raci-activity-remove": PILOT_COMMAND,
    "phase-remove": PILOT_COMMAND,
    "phase-move": PILOT_COMMAND,
    # metrics
    "backend-metrics-summary": Access(
        query=(("start", "2026-01-01T00:00:00Z"), ("end", "2026-01-02T00:00:00Z"))
    ),
    "import-create": Access(roles=METRICS_UPLOADERS),
    "import-progress": Access(fragment=True),
    "metrics-backend-panel": Access(fragment=True),
    "metrics-pilot-panel": Access(fragment=True),
    # costs: FOCUS bills
    "bill-create": Access(roles=COSTS_WRITERS),
    "bill-progress": Access(fragment=True),
    "bill-mapping-create": Access(roles=COSTS_WRITERS),
    "bill-mapping-edit": Access(roles=COSTS_WRITERS),
    "bill-mapping-delete": Access(roles=COSTS_WRITERS, post_only=True),
    # costs
    "unmapped-map": Access(roles=frozenset({Role.FINANCE, Role.ADMIN}), post_only=True),
    "costs-pilot-panel": Access(fragment=True),
    # vendors, contracts, incidents and spares (issue 12)
    "api-movement-reverse": POST_ONLY,
    "vendor-edit": Access(roles=VENDOR_WRITERS),
    "contract-create": Access(roles=VENDOR_WRITERS),
    "contract-edit": Access(roles=VENDOR_WRITERS),
    "incident-create": Access(roles=VENDOR_WRITERS),
    "incident-edit": Access(roles=VENDOR_WRITERS),
    "movement-create": Access(roles=VENDOR_WRITERS),
    "red-flag-pilot-panel": Access(fragment=True),
    "red-flag-summary-panel": Access(fragment=True),
    # portal: API docs are pages
    "api-swagger": Access(page=True),
    "api-redoc": Access(page=True),
    # pilots API: POST-only commands (GET is 405 for every role; writes are
    # PILOTS_WRITE, tested in tests/pilots/test_api_write.py)
    "api-pilot-phases": POST_ONLY,
    "api-phase-exit-criteria": POST_ONLY,
    "api-phase-start": POST_ONLY,
    # reviews: read by letter holders of the pilot's RACI and PMs (the world's
    # pilot has no letters); decisions, objections and resolutions are commands
    "api-pilot-reviews": REVIEW_READERS,
    "api-review-detail": REVIEW_READERS,
    "api-review-decision": POST_ONLY,
    "api-review-objections": POST_ONLY,
    "api-objection-resolve": POST_ONLY,
    "reviews-pilot-panel": Access(fragment=True),
    "review-detail": REVIEW_READERS,
    "review-record": REVIEW_READERS,
    "review-record-json": REVIEW_READERS,
    "review-decide": POST_ONLY,
    "review-object": POST_ONLY,
    "review-objection-resolve": POST_ONLY,
    # a pilot's review thresholds and webhooks: program managers and admins
    "review-settings": PILOT_WRITE_PAGE,
    "webhook-create": PILOT_COMMAND,
    "webhook-edit": PILOT_WRITE_PAGE,
    # chargeback (finance and admins close, restate and set budgets)
    "api-chargeback-close": Access(roles=COSTS_WRITERS, post_only=True),
    "api-chargeback-restate": Access(roles=COSTS_WRITERS, post_only=True),
    "chargeback-close": Access(roles=COSTS_WRITERS),
    "chargeback-restate": Access(roles=COSTS_WRITERS, post_only=True),
    "chargeback-late-check": Access(roles=COSTS_WRITERS, post_only=True),
    "budget-save": Access(roles=COSTS_WRITERS, post_only=True),
}


@dataclass
class World:
    """The objects URL parameters point at, created on first use."""

    user: Any

    @cached_property
    def vendor(self) -> Any:
        return VendorFactory(name="Zephyr Systems", slug="zephyr")

    @cached_property
    def backend(self) -> Any:
        return BackendFactory(
            name=BACKEND_NAME, slug="zephyr-ws", kind=Backend.Kind.WAFER_SCALE, vendor=self.vendor
        )

    @cached_property
    def pilot(self) -> Any:
        pilot = PilotFactory(name=PILOT_NAME, candidate_backend=self.backend)
        RaciActivityFactory(pilot=pilot, name="Go/no-go decision", key="go_no_go")
        return pilot

    @cached_property
    def phase(self) -> Any:
        phase = PhaseFactory(pilot=self.pilot, order=1, kind=Phase.Kind.LAB_VALIDATION)
        ExitCriterionFactory(phase=phase)
        return phase

    @cached_property
    def criterion(self) -> Any:
        return self.phase.exit_criteria.get()

    @cached_property
    def activity(self) -> Any:
        return self.pilot.raci_activities.get()

    @cached_property
    def cost_center(self) -> Any:
        return CostCenterFactory(code="CC-PERM")

    @cached_property
    def cost_model(self) -> Any:
        from costs.models import CostModel

        return CostModel.objects.create(
            backend=self.backend,
            kind="cloud_rate",
            effective_from=dt.date(2026, 1, 1),
            device_hour_rate=1,
        )

    @cached_property
    def usage_mapping(self) -> Any:
        from costs.models import UsageMapping

        return UsageMapping.objects.create(label="team", value="perm", cost_center=self.cost_center)

    @cached_property
    def token(self) -> Any:
        owner = self.user if self.user is not None else UserFactory(username="token-owner")
        token, _ = token_create(user=owner, name="permission probe", days=30)
        return token

    @cached_property
    def import_job(self) -> Any:
        from metrics.models import ImportJob

        return ImportJob.objects.create(
            backend=self.backend,
            pilot=self.pilot,
            file_path="imports/probe.csv",
            original_filename="probe.csv",
            scrape_time=timezone.now() - dt.timedelta(hours=1),
        )

    @cached_property
    def bill_import(self) -> Any:
        from costs.models import BillImport

        return BillImport.objects.create(
            file_path="bills/probe.csv", original_filename="probe.csv", currency="USD"
        )

    @cached_property
    def bill_mapping(self) -> Any:
        from costs.models import BillMapping

        return BillMapping.objects.create(
            backend=self.backend, column="ServiceName", pattern="Zephyr.*", order=1
        )

    # Vendors, contracts, incidents and spares (issue 12).
    @cached_property
    def contract(self) -> Any:
        from pilots.models import Contract

        contract = Contract.objects.create(
            vendor=self.vendor, start=dt.date(2026, 1, 1), end=dt.date(2026, 12, 31)
        )
        contract.backends.set([self.backend])
        return contract

    @cached_property
    def incident(self) -> Any:
        from pilots.models import Incident

        return Incident.objects.create(
            contract=self.contract, kind="support_request", opened_at=timezone.now()
        )

    @cached_property
    def part(self) -> Any:
        from pilots.models import Part

        return Part.objects.create(
            vendor=self.vendor, part_number="ZX-100", annual_failure_rate="0.1"
        )

    @cached_property
    def stock(self) -> Any:
        from pilots.models import StockLevel

        return StockLevel.objects.create(part=self.part, site=self.backend.site)

    @cached_property
    def unit(self) -> Any:
        from pilots.models import Unit

        return Unit.objects.create(serial="SN-1", part=self.part, site=self.backend.site)

    @cached_property
    def movement(self) -> Any:
        from pilots.models import StockMovement

        return StockMovement.objects.create(stock=self.stock, kind="received", quantity=1, delta=1)

    @cached_property
    def red_flag(self) -> Any:
        from django.contrib.contenttypes.models import ContentType

        from reviews.models import RedFlag

        return RedFlag.objects.create(
            kind="contract_ending",
            severity="medium",
            pilot=self.pilot,
            source_type=ContentType.objects.get_for_model(type(self.contract)),
            source_id=str(self.contract.pk),
            source_label="probe",
            detail="probe",
            raised_at=timezone.now(),
        )

    @cached_property
    def review(self) -> Any:
        from reviews.models import Review

        author: Any = UserFactory(username="review-author")
        return Review.objects.create(
            pilot=self.pilot,
            phase=self.phase,
            submitted_by=author,
            recommendation=Review.Recommendation.GO,
            submitted_at=timezone.now() - dt.timedelta(hours=2),
            status=Review.Status.APPROVED,
            decided_by=author,
            decided_at=timezone.now() - dt.timedelta(hours=1),
            seed=1,
            verdict=Review.Verdict.INSUFFICIENT_DATA,
            evidence={"verdict": "insufficient_data", "criteria": [], "red_flags": []},
        )

    @cached_property
    def objection(self) -> Any:
        from reviews.models import Objection

        return Objection.objects.create(
            review=self.review, by=self.review.submitted_by, text="probe", lodged_at=timezone.now()
        )

    @cached_property
    def webhook(self) -> Any:
        from reviews.models import Webhook

        return Webhook.objects.create(
            pilot=self.pilot, url="https://hooks.example.com/probe", secret="probe"
        )

    @cached_property
    def statement(self) -> Any:
        """A closed month's statement of a cost center the user belongs to."""
        from costs.models import ChargebackPeriod, CostCenter, Statement

        center = CostCenter.objects.create(code="CC-PERM", name="Permission probe")
        if self.user is not None:
            center.members.add(self.user)
        period = ChargebackPeriod.objects.create(period="2026-10", status="closed", version=1)
        return Statement.objects.create(
            period=period,
            cost_center=center,
            cost_center_code=center.code,
            cost_center_name=center.name,
            number="2026-10-CC-PERM-v1",
            version=1,
            currency="USD",
            total=0,
            content_hash="0" * 64,
            closed_at=timezone.now(),
        )


# Path parameter name -> value. A URL whose parameter means something else
# gets an entry in URL_KWARGS instead.
KWARGS: dict[str, Callable[[World], Any]] = {
    "pk": lambda w: w.pilot.pk,
    "pilot_pk": lambda w: w.pilot.pk,
    "pilot_id": lambda w: w.pilot.pk,
    "slug": lambda w: w.backend.slug,
    "backend_slug": lambda w: w.backend.slug,
    "phase_pk": lambda w: w.phase.pk,
    "phase_id": lambda w: w.phase.pk,
    "criterion_pk": lambda w: w.criterion.pk,
    "activity_pk": lambda w: w.activity.pk,
    "activity_id": lambda w: w.activity.pk,
    "token_id": lambda w: w.token.pk,
    "format": lambda w: "json",
    "bill_pk": lambda w: w.bill_import.pk,
    "mapping_pk": lambda w: w.bill_mapping.pk,
    "code": lambda w: w.cost_center.code,
    "vendor_slug": lambda w: w.vendor.slug,
    "contract_pk": lambda w: w.contract.pk,
    "incident_pk": lambda w: w.incident.pk,
    "objection_pk": lambda w: w.objection.pk,
    "webhook_pk": lambda w: w.webhook.pk,
    "period": lambda w: w.statement.period.period,
    "number": lambda w: w.statement.number,
    "fmt": lambda w: "csv",
}
URL_KWARGS: dict[str, dict[str, Callable[[World], Any]]] = {
    # A budget is read by the cost center's members: the statement's center has the user.
    "api-cost-center-budget": {"code": lambda w: w.statement.cost_center.code},
    "api-vendor-detail": {"slug": lambda w: w.vendor.slug},
    "api-vendor-compliance": {"slug": lambda w: w.vendor.slug},
    "api-contract-detail": {"pk": lambda w: w.contract.pk},
    "api-contract-compliance": {"pk": lambda w: w.contract.pk},
    "api-incident-detail": {"pk": lambda w: w.incident.pk},
    "api-site-detail": {"slug": lambda w: w.backend.site.slug},
    "api-part-detail": {"part_number": lambda w: w.part.part_number},
    "api-stock-detail": {"pk": lambda w: w.stock.pk},
    "api-unit-detail": {"serial": lambda w: w.unit.serial},
    "api-movement-detail": {"pk": lambda w: w.movement.pk},
    "api-movement-reverse": {"pk": lambda w: w.movement.pk},
    "api-red-flag-detail": {"pk": lambda w: w.red_flag.pk},
    "import-detail": {"pk": lambda w: w.import_job.pk},
    "import-progress": {"pk": lambda w: w.import_job.pk},
    "import-job-detail": {"pk": lambda w: w.import_job.pk},
    "api-bill-detail": {"pk": lambda w: w.bill_import.pk},
    "api-bill-mapping-detail": {"pk": lambda w: w.bill_mapping.pk},
    "api-cost-model-detail": {"pk": lambda w: w.cost_model.pk},
    "api-usage-mapping-detail": {"pk": lambda w: w.usage_mapping.pk},
    "api-phase-detail": {"pk": lambda w: w.phase.pk},
    "api-phase-exit-criteria": {"pk": lambda w: w.phase.pk},
    "api-phase-start": {"pk": lambda w: w.phase.pk},
    "api-exit-criterion-detail": {"pk": lambda w: w.criterion.pk},
    "api-review-detail": {"pk": lambda w: w.review.pk},
    "api-review-decision": {"pk": lambda w: w.review.pk},
    "api-review-objections": {"pk": lambda w: w.review.pk},
    "api-objection-resolve": {"pk": lambda w: w.objection.pk},
    "review-detail": {"pk": lambda w: w.review.pk},
    "review-decide": {"pk": lambda w: w.review.pk},
    "review-object": {"pk": lambda w: w.review.pk},
    "review-record": {"pk": lambda w: w.review.pk},
    "review-record-json": {"pk": lambda w: w.review.pk},
}


# Collecting the URLs -------------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str
    kwarg_names: tuple[str, ...]

    @property
    def id(self) -> str:
        return self.name + (f"[{','.join(self.kwarg_names)}]" if self.kwarg_names else "")


def _walk(
    patterns: list[URLPattern | URLResolver], namespace: str, inherited: tuple[str, ...]
) -> Iterator[tuple[str | None, tuple[str, ...], str]]:
    for entry in patterns:
        kwargs = inherited + tuple(entry.pattern.regex.groupindex)
        if isinstance(entry, URLResolver):
            if entry.namespace in SKIPPED_NAMESPACES:
                continue
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, inner, kwargs)
        else:
            name = f"{namespace}{entry.name}" if entry.name else None
            yield name, kwargs, str(entry.pattern)


def all_routes() -> list[Route]:
    routes: set[Route] = set()
    for name, kwargs, _ in _walk(get_resolver().url_patterns, "", ()):
        if name is None or name in ALLOWED_PUBLIC:
            continue
        routes.add(Route(name, tuple(sorted(set(kwargs)))))
    return sorted(routes, key=lambda route: route.id)


ROUTES = all_routes()

PERSONAS = ["anonymous", "outsider", *sorted(Role.values)]


def _make_persona(persona: str) -> Any:
    if persona == "anonymous":
        return None
    user: Any = UserFactory(username=f"persona-{persona}")
    if persona != "outsider":
        user.groups.set(Group.objects.filter(name=persona))
    return user


def _url_for(route: Route, world: World) -> str:
    kwargs: dict[str, Any] = {}
    for kwarg in route.kwarg_names:
        maker = URL_KWARGS.get(route.name, {}).get(kwarg) or KWARGS.get(kwarg)
        if maker is None:
            pytest.fail(
                f"URL {route.name!r} has a path parameter {kwarg!r} this test cannot fill: add "
                f"{kwarg!r} to KWARGS (or URL_KWARGS[{route.name!r}]) in tests/test_permissions.py",
                pytrace=False,
            )
        kwargs[kwarg] = maker(world)
    return reverse(route.name, kwargs=kwargs)


def _is_api(url: str) -> bool:
    return url.startswith("/api/")


def _redirects_to_login(response: Any) -> bool:
    return response.status_code == 302 and str(response["Location"]).startswith(reverse("login"))


# The tests -----------------------------------------------------------------


def test_the_walk_finds_the_project_urls() -> None:
    # A broken walk (wrong attribute, swallowed include) would make every
    # other test here vacuous.
    names = {route.name for route in ROUTES}
    assert {"pilot-list", "pilot-detail", "backend-detail", "account-tokens"} <= names
    assert {"api-pilot-list", "api-pilot-detail", "api-backend-detail"} <= names


def test_url_names_are_unique() -> None:
    # Routes are keyed by name: a page and an endpoint sharing one would leave
    # one of them out of every test below (and out of reverse()).
    names = [name for name, _, _ in _walk(get_resolver().url_patterns, "", ()) if name]
    assert sorted({n for n in names if names.count(n) > 1}) == []


def test_every_url_outside_the_admin_has_a_name() -> None:
    unnamed = [
        pattern for name, _, pattern in _walk(get_resolver().url_patterns, "", ()) if name is None
    ]
    assert unnamed == [], "give these URLs a name so the permission test covers them"


def test_expectations_name_only_existing_urls() -> None:
    stale = set(EXPECTATIONS) | set(URL_KWARGS)
    stale -= {route.name for route in ROUTES}
    assert stale == set(), f"remove or rename stale entries: {sorted(stale)}"


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.id)
def test_get_access(route: Route, persona: str) -> None:
    sync_role_groups()
    user = _make_persona(persona)
    world = World(user=user)
    world.pilot  # noqa: B018 - every page must hide this pilot from outsiders
    url = _url_for(route, world)
    client = Client()
    if user is not None:
        client.force_login(user)
    access = EXPECTATIONS.get(route.name, READ)

    response = client.get(url, dict(access.query))

    status = response.status_code
    where = f"GET {url} ({route.name}) as {persona}"
    if persona == "anonymous":
        if _is_api(url) and not access.page:
            assert status in (401, 403), f"{where}: expected 401/403, got {status}"
        elif access.fragment:
            assert _redirects_to_login(response) or status in (401, 403), f"{where}: got {status}"
        else:
            assert _redirects_to_login(response), f"{where}: expected login redirect, got {status}"
        return
    if persona == "outsider":
        assert status in (403, 404), f"{where}: expected 403/404, got {status}"
        body = response.content.decode(errors="replace")
        assert PILOT_NAME not in body, f"{where}: the body names a pilot"
        assert BACKEND_NAME not in body, f"{where}: the body names a backend"
        return
    if persona not in access.roles:
        expected = 403
    elif access.post_only:
        expected = 405
    else:
        expected = 200
    hint = ""
    if status == 404:
        hint = " (a 404 may mean a path parameter points at the wrong object: see URL_KWARGS)"
    elif expected == 200 and status in (403, 405):
        hint = " (a write page or command? add it to EXPECTATIONS)"
    assert status == expected, f"{where}: expected {expected}, got {status}{hint}"


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["anonymous", "outsider"])
@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.id)
def test_post_is_refused_without_a_role(route: Route, persona: str) -> None:
    sync_role_groups()
    user = _make_persona(persona)
    world = World(user=user)
    url = _url_for(route, world)
    client = Client()
    if user is not None:
        client.force_login(user)

    response = client.post(url, {})

    status = response.status_code
    where = f"POST {url} ({route.name}) as {persona}"
    if persona == "anonymous":
        assert _redirects_to_login(response) or status in (401, 403, 405), f"{where}: {status}"
    else:
        assert status in (403, 404, 405), f"{where}: expected 403/404/405, got {status}"
