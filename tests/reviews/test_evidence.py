"""Evidence on known data, through the API: the verdicts the issue names,
reproduced from the frozen snapshot."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from pilots.models import ExitCriterion
from reviews.evidence import evaluate
from reviews.models import Review
from tests.factories import ExitCriterionFactory
from tests.reviews.builders import feed, pilot_in_canary

pytestmark = pytest.mark.django_db

P99 = ExitCriterion.Metric.E2E_LATENCY_P99


@pytest.fixture
def setup(pilot_team: Any, approver: Any, client_for: Any) -> Any:
    def make(
        *, candidate: dict[str, Any], baseline: dict[str, Any], criteria: list[dict[str, Any]]
    ) -> dict[str, Any]:
        pilot, phase, _ = pilot_in_canary(responsible=pilot_team, accountable=approver)
        feed(pilot.candidate_backend, **candidate)
        feed(pilot.baseline_backend, **baseline)
        for spec in criteria:
            ExitCriterionFactory(phase=phase, **spec)
        return _submit(client_for(pilot_team), pilot, phase)

    return make


def _submit(client: Any, pilot: Any, phase: Any) -> dict[str, Any]:
    """A go recommendation for the phase through the API; its 201 body."""
    response = client.post(
        f"/api/v1/pilots/{pilot.pk}/reviews/",
        {"phase": phase.pk, "recommendation": "go"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body: dict[str, Any] = dict(response.json())
    return body


def _only(review: dict[str, Any]) -> dict[str, Any]:
    (criterion,) = review["evidence"]["criteria"]
    return dict(criterion)


def test_candidate_p99_ten_percent_worse_fails(setup: Any) -> None:
    review = setup(candidate={"scale": 1.1}, baseline={}, criteria=[{"metric": P99}])
    criterion = _only(review)
    assert criterion["verdict"] == "fail"
    assert criterion["ratio"] == pytest.approx(1.1, rel=0.02)
    assert criterion["ci_low"] > 1.0
    assert review["evidence"]["verdict"] == "fail"


def test_equal_distributions_pass(setup: Any) -> None:
    review = setup(candidate={}, baseline={}, criteria=[{"metric": P99}])
    criterion = _only(review)
    assert criterion["verdict"] == "pass"
    assert criterion["ratio"] == pytest.approx(1.0)
    assert criterion["ci_high"] <= 1.0
    assert review["evidence"]["verdict"] == "pass" and review["evidence"]["score"] == 100.0


def test_two_hundred_requests_are_insufficient_data(setup: Any) -> None:
    review = setup(
        candidate={"requests_per_hour": 20, "hours": 10},
        baseline={"requests_per_hour": 20, "hours": 10},
        criteria=[{"metric": P99}],
    )
    criterion = _only(review)
    assert criterion["candidate_n"] == pytest.approx(200)
    assert criterion["verdict"] == "insufficient_data"
    assert "1000" in criterion["reason"]
    assert review["evidence"]["verdict"] == "insufficient_data"


def test_few_hourly_slices_are_insufficient_data(setup: Any) -> None:
    review = setup(
        candidate={"requests_per_hour": 5000, "hours": 5},
        baseline={"requests_per_hour": 5000, "hours": 5},
        criteria=[{"metric": P99}],
    )
    assert _only(review)["verdict"] == "insufficient_data"
    assert "slices" in _only(review)["reason"]


@pytest.mark.parametrize(
    "comparison, threshold",
    [(ExitCriterion.Comparison.ABSOLUTE, "0.001"), (ExitCriterion.Comparison.RELATIVE, "1.0")],
)
def test_one_percent_errors_against_a_tenth_of_a_percent_fail(
    setup: Any, comparison: str, threshold: str
) -> None:
    review = setup(
        candidate={"error_rate": 0.01},
        baseline={"error_rate": 0.001},
        criteria=[
            {
                "metric": ExitCriterion.Metric.ERROR_RATE,
                "comparison": comparison,
                "threshold": Decimal(threshold),
            }
        ],
    )
    criterion = _only(review)
    assert criterion["candidate"] == pytest.approx(0.01)
    assert criterion["verdict"] == "fail"


def test_throughput_and_summary_criteria(setup: Any) -> None:
    review = setup(
        candidate={"tokens_per_request": 200, "temperature": 70.0},
        baseline={"tokens_per_request": 100},
        criteria=[
            {
                "metric": ExitCriterion.Metric.TOKENS_PER_SECOND,
                "direction": ExitCriterion.Direction.AT_LEAST,
                "threshold": Decimal("1.5"),
            },
            {
                "metric": ExitCriterion.Metric.MAX_TEMPERATURE,
                "comparison": ExitCriterion.Comparison.ABSOLUTE,
                "threshold": Decimal("65"),
            },
        ],
    )
    throughput, temperature = review["evidence"]["criteria"]
    assert throughput["ratio"] == pytest.approx(2.0) and throughput["verdict"] == "pass"
    assert temperature["candidate"] == 70.0 and temperature["verdict"] == "fail"


def test_the_evidence_names_its_sources_pilot_series_first(
    pilot_team: Any, approver: Any, client_for: Any
) -> None:
    pilot, phase, _ = pilot_in_canary(responsible=pilot_team, accountable=approver)
    feed(pilot.candidate_backend, pilot=pilot, scale=1.0)
    # Other traffic of the candidate backend, much slower: not the pilot's.
    feed(pilot.candidate_backend, scale=3.0)
    feed(pilot.baseline_backend)
    ExitCriterionFactory(phase=phase, metric=P99)
    review = _submit(client_for(pilot_team), pilot, phase)
    assert review["evidence"]["sources"] == {"candidate": "pilot", "baseline": "backend"}
    assert _only(review)["verdict"] == "pass"


def test_red_flags_tail_regression_and_thermal(setup: Any) -> None:
    review = setup(
        candidate={"median": 0.5, "sigma": 0.6, "throttle_seconds_per_hour": 120.0},
        baseline={"median": 0.5, "sigma": 0.4},
        criteria=[{"metric": P99, "threshold": Decimal("1.5")}],
    )
    codes = {flag["code"] for flag in review["evidence"]["red_flags"]}
    assert codes == {"tail_regression", "thermal_throttling"}


def test_throttle_of_many_gpus_is_a_share_of_their_time(
    pilot_team: Any, approver: Any, client_for: Any
) -> None:
    import datetime as dt

    from metrics import catalog
    from metrics.models import HourlyRollup, MetricDefinition
    from tests.factories import HourlyRollupFactory, SeriesFactory
    from tests.reviews.builders import START

    pilot, phase, _ = pilot_in_canary(responsible=pilot_team, accountable=approver)
    feed(pilot.candidate_backend)  # its own throttle counter reads 0
    feed(pilot.baseline_backend)
    ExitCriterionFactory(phase=phase, metric=P99)
    throttle = MetricDefinition.objects.get(name=catalog.THROTTLE_SECONDS)
    for gpu in range(8):  # each 60 s an hour for 24 h: 0.83 % of the 48 h window
        series = SeriesFactory(
            backend=pilot.candidate_backend, metric=throttle, labels={"gpu": str(gpu)}
        )
        for h in range(24):
            HourlyRollupFactory(series=series, hour=START + dt.timedelta(hours=h), increase=60.0)
    candidate_throttle = HourlyRollup.objects.filter(
        series__metric=throttle, series__backend=pilot.candidate_backend
    )
    assert candidate_throttle.count() == 24 * 9
    review = _submit(client_for(pilot_team), pilot, phase)
    # 11,520 s in all is 6.7 % of the window, but 0.74 % of 9 devices' time.
    assert "thermal_throttling" not in {f["code"] for f in review["evidence"]["red_flags"]}
    stored = Review.objects.get(pk=review["id"]).snapshot
    assert stored["inputs"]["candidate"]["summary"]["throttle_devices"] == 9


def test_rerunning_the_snapshot_gives_the_same_verdicts(setup: Any) -> None:
    review = setup(
        candidate={"scale": 1.02, "error_rate": 0.0009},
        baseline={},
        criteria=[
            {"metric": P99, "threshold": Decimal("1.05")},
            {
                "metric": ExitCriterion.Metric.ERROR_RATE,
                "comparison": ExitCriterion.Comparison.ABSOLUTE,
                "threshold": Decimal("0.001"),
            },
            {"metric": ExitCriterion.Metric.COST_PER_1M_TOKENS, "threshold": Decimal("0.9")},
        ],
    )
    stored = Review.objects.get(pk=review["id"])
    assert stored.snapshot["seed"] == stored.seed == review["seed"]
    assert stored.snapshot["parameters"]["resamples"] >= 1000
    again = evaluate(stored.snapshot)
    assert again == stored.evidence
    assert [c["verdict"] for c in again["criteria"]] == [
        c["verdict"] for c in review["evidence"]["criteria"]
    ]
    # No cost model or allocation in this window: the showback unit economics
    # have no figure for it, and the criterion says so instead of passing.
    assert again["criteria"][2]["verdict"] == "insufficient_data"
    assert again["criteria"][2]["reason"] == "no candidate figure in the window"
