"""``python manage.py seed_demo_reviews`` (after ``seed_demo`` and
``seed_demo_metrics``): go/no-go reviews for the demo pilots, so ``make
run`` shows each state.

- The canary of "Chat assistant on wafer-scale" gets an open review with
  evidence: p99 latency and throttle events pass, the error rate is exactly
  at its 0.1 % threshold (marginal), $/1M tokens waits for unit economics.
- "Embeddings on CPU" (completed) gets a decided chain: an approved go for
  every phase, and a rejected review before the approved one of its canary.
- "Speech recognition on FPGA" (stopped) gets the approved no-go of the
  shadow phase that failed, its p99 30 % worse than the baseline's.

The evidence rests on metrics imported for the pilot (the import names it),
through the real import service, in the 12 hours before each review. The
finished pilots' phases were passed by ``seed_demo`` before reviews
existed, so their reviews are recorded as history here (evidence computed
the same way, decision fields set as the approver would have). Idempotent:
a pilot that has reviews is left alone, and the metrics are a function of
the pilot, backend and instant.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import random
import tempfile
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from metrics.models import ImportJob
from metrics.services import import_job_create, import_job_run
from pilots.models import Backend, Phase, Pilot
from portal.audit import record_change
from portal.models import ChangeRecord
from reviews import evidence
from reviews.models import Review
from reviews.services import evidence_seed, evidence_snapshot, review_submit
from reviews.services._common import fields_of

STEP = dt.timedelta(minutes=15)
HOURS = 12
BUCKETS = (
    0.1,
    0.25,
    0.5,
    0.8,
    1.0,
    1.5,
    2.0,
    2.5,
    3.0,
    4.0,
    5.0,
    7.5,
    10.0,
    15.0,
    20.0,
    30.0,
    math.inf,
)
# Latency (median s, sigma), requests per 15 min, errors per 15 min.
TRAFFIC = {
    "wse-3": (1.1, 0.35, 12_000, 12),
    "h100-cluster": (4.2, 0.55, 2_000, 4),
    "epyc-cpu-pool": (0.09, 0.3, 8_000, 2),
    "alveo-fpga-farm": (2.4, 0.45, 3_000, 3),
}
OVERRIDE = (
    "Unit economics ($/1M tokens) are not in PilotGate yet; finance confirmed the cost "
    "criterion from the cloud bill."
)


def _cdf(x: float, median: float, sigma: float) -> float:
    if math.isinf(x):
        return 1.0
    return 0.5 * (1.0 + math.erf(math.log(x / median) / (sigma * math.sqrt(2.0))))


class Command(BaseCommand):
    help = "Go/no-go reviews for the demo pilots (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        users = {
            u.username: u
            for u in get_user_model().objects.filter(
                username__in=["pm", "team", "approver", "finance"]
            )
        }
        if len(users) < 4:
            raise CommandError("No demo users: run seed_demo first.")
        self.users = users
        pilots = {
            p.name: p for p in Pilot.objects.select_related("candidate_backend", "baseline_backend")
        }
        chat = pilots.get("Chat assistant on wafer-scale")
        embeddings = pilots.get("Embeddings on CPU")
        speech = pilots.get("Speech recognition on FPGA")
        if chat is None or embeddings is None or speech is None:
            raise CommandError("No demo pilots: run seed_demo first.")
        self._canary(chat)
        self._finished(embeddings)
        self._stopped(speech)

    # --- metrics --------------------------------------------------------------

    def _import(
        self, pilot: Pilot, backend: Backend, end: dt.datetime, *, slower: float = 1.0
    ) -> None:
        """HOURS of the pilot's traffic on ``backend`` up to ``end``."""
        median, sigma, requests, errors = TRAFFIC[backend.slug]
        end = end.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
        start = end - dt.timedelta(hours=HOURS)
        rows: list[list[str]] = []
        totals: dict[str, float] = {}
        ts = start
        first = True
        while ts < end:
            rng = random.Random(f"{pilot.pk}:{backend.slug}:{ts.isoformat()}")
            stamp = ts.strftime("%Y-%m-%dT%H:%M:%SZ")
            n = 0.0 if first else float(requests)
            spread = sigma * rng.uniform(0.97, 1.03)

            def bump(metric: str, labels: str, by: float, stamp: str = stamp) -> None:
                key = f"{metric}|{labels}"
                totals[key] = totals.get(key, 0.0) + by
                rows.append([stamp, metric, f"{totals[key]:.3f}", labels])

            for family, scale in (
                ("request_latency_seconds", 1.0),
                ("time_to_first_token_seconds", 0.08),
            ):
                for le in BUCKETS:
                    share = _cdf(le, median * slower * scale, spread)
                    bound = "+Inf" if math.isinf(le) else f"{le:g}"
                    bump(f"{family}_bucket", f"le={bound}", n * share)
            bump("requests_total", "", n)
            bump("errors_total", "", 0.0 if first else float(errors))
            bump("generation_tokens_total", "", n * 300)
            bump("throttle_events_total", "device=0", 0.0)
            first = False
            ts += STEP
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"review-evidence-{pilot.pk}-{backend.slug}.csv"
            with path.open("w", newline="") as out:
                writer = csv.writer(out)
                writer.writerow(["timestamp", "metric", "value", "labels"])
                writer.writerows(rows)
            job = import_job_create(
                actor=None,
                backend=backend,
                pilot=pilot,
                fmt=ImportJob.Format.CSV,
                source=ImportJob.Source.CLI,
                file=path,
                enqueue=False,
            )
            import_job_run(job_id=job.pk)
        job.refresh_from_db()
        if job.status != ImportJob.Status.SUCCEEDED:
            raise CommandError(f"{backend.slug}: import #{job.pk} failed: {job.error}")

    # --- reviews ----------------------------------------------------------------

    def _canary(self, pilot: Pilot) -> None:
        if Review.objects.filter(pilot=pilot).exists():
            return
        phase = pilot.phases.filter(status=Phase.Status.ACTIVE).first()
        if phase is None:
            return
        now = timezone.now()
        self._import(pilot, pilot.candidate_backend, now)
        self._import(pilot, pilot.baseline_backend, now)
        review = review_submit(
            pilot=pilot,
            actor=self.users["team"],
            phase=phase,
            recommendation=Review.Recommendation.GO,
            notes="Two weeks of 5 % canary traffic. p99 far below the H100 baseline; "
            "error rate right at the 0.1 % line.",
        )
        self.stdout.write(f"{pilot.name}: open review #{review.pk} ({review.verdict})")

    @transaction.atomic
    def _history(
        self,
        pilot: Pilot,
        phase: Phase,
        *,
        recommendation: str,
        decision: str,
        at: dt.datetime,
        rationale: str,
        notes: str,
    ) -> Review:
        """A review decided before this portal recorded reviews: evidence
        computed as at submission, decision as the approver gave it."""
        assert phase.actual_start is not None
        seed = evidence_seed(pilot_id=pilot.pk, phase_id=phase.pk, submitted_at=at)
        snap = evidence_snapshot(
            pilot=pilot, phase=phase, start=phase.actual_start, end=at, seed=seed
        )
        result = evidence.evaluate(snap)
        approving = decision == Review.Status.APPROVED
        needs_override = approving and result["verdict"] in ("fail", "insufficient_data")
        review = Review(
            pilot=pilot,
            phase=phase,
            submitted_by=self.users["pm"],
            recommendation=recommendation,
            notes=notes,
            submitted_at=at - dt.timedelta(hours=2),
            status=decision,
            seed=seed,
            snapshot=snap,
            evidence=result,
            verdict=result["verdict"],
            score=result["score"],
            decided_by=self.users["approver"],
            decided_at=at,
            rationale=rationale,
            override_reason=(
                (
                    OVERRIDE
                    if result["verdict"] == "insufficient_data"
                    else "The evidence fails and the no-go follows it; approving a failing verdict "
                    "needs a reason on the record."
                )
                if needs_override
                else ""
            ),
        )
        review.full_clean(validate_constraints=False)
        review.save()
        record_change(
            actor=None,
            instance=review,
            action=ChangeRecord.Action.CREATE,
            after=fields_of(review),
            scope=pilot.scope,
            message="seed_demo_reviews",
        )
        return review

    def _finished(self, pilot: Pilot) -> None:
        if Review.objects.filter(pilot=pilot).exists():
            return
        for phase in pilot.phases.order_by("order"):
            if phase.status != Phase.Status.PASSED or phase.actual_end is None:
                continue
            end = phase.actual_end - dt.timedelta(hours=1)
            self._import(pilot, pilot.candidate_backend, end)
            self._import(pilot, pilot.baseline_backend, end)
            if phase.kind == Phase.Kind.CANARY:
                self._history(
                    pilot,
                    phase,
                    recommendation=Review.Recommendation.GO,
                    decision=Review.Status.REJECTED,
                    at=end - dt.timedelta(days=2),
                    rationale="Wait for the weekly peak to be in the window.",
                    notes="Canary after five days.",
                )
            review = self._history(
                pilot,
                phase,
                recommendation=Review.Recommendation.GO,
                decision=Review.Status.APPROVED,
                at=end,
                rationale=f"{phase.label}: latency and errors within the criteria.",
                notes=f"{phase.label} complete.",
            )
            self.stdout.write(f"{pilot.name}: {phase.label} approved go #{review.pk}")

    def _stopped(self, pilot: Pilot) -> None:
        if Review.objects.filter(pilot=pilot).exists():
            return
        phase = pilot.phases.filter(status=Phase.Status.FAILED).first()
        if phase is None or phase.actual_end is None:
            return
        end = phase.actual_end - dt.timedelta(hours=1)
        self._import(pilot, pilot.candidate_backend, end, slower=1.3)
        self._import(pilot, pilot.baseline_backend, end, slower=2.4 / 4.2)
        review = self._history(
            pilot,
            phase,
            recommendation=Review.Recommendation.NO_GO,
            decision=Review.Status.APPROVED,
            at=end,
            rationale="p99 latency regression under mixed load; the FPGA farm is not ready.",
            notes="Shadow traffic: p99 30 % worse than the GPU baseline.",
        )
        self.stdout.write(f"{pilot.name}: approved no-go #{review.pk} ({review.verdict})")
