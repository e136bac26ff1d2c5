"""A snapshot frozen with the first rules (``pilotgate-evidence/1``) keeps its
evidence: evaluating it now gives, float for float, what the code that
froze it gave (stored beside it in data/). A change of method that moves any
figure must bump ``EVIDENCE_VERSION`` and keep evaluating old snapshots with
their version's method."""

from __future__ import annotations

import json
from pathlib import Path

from reviews.evidence import EVIDENCE_VERSION, evaluate

FROZEN = Path(__file__).parent / "data" / "evidence_v1_frozen.json"


def test_a_snapshot_of_the_first_version_evaluates_to_its_stored_evidence() -> None:
    frozen = json.loads(FROZEN.read_text())
    snapshot = frozen["snapshot"]
    assert snapshot["version"] == EVIDENCE_VERSION == "pilotgate-evidence/1"
    # Eight quantile criteria over both families, some absolute, fractional
    # counts, a bucket missing in some hours, hours without data.
    assert evaluate(snapshot) == frozen["evidence"]
    assert {c["verdict"] for c in frozen["evidence"]["criteria"]} == {"pass", "marginal", "fail"}
