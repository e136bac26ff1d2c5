"""OpenAPI request and response examples of the pilot write endpoints."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample


def _request(name: str, value: Any, summary: str = "") -> OpenApiExample:
    return OpenApiExample(name, value=value, summary=summary or name, request_only=True)


def _response(name: str, value: Any, status_code: int = 200, summary: str = "") -> OpenApiExample:
    return OpenApiExample(
        name,
        value=value,
        summary=summary or name,
        response_only=True,
        status_codes=[str(status_code)],
    )


_CRITERION = {
    "id": 41,
    "metric": "e2e_latency_p99",
    "comparison": "relative",
    "direction": "at_most",
    "threshold": "1.000000",
    "critical": True,
    "weight": 1,
    "summary": "End-to-end latency p99 at most 1 × baseline",
}
_PHASE = {
    "id": 17,
    "order": 1,
    "kind": "lab_validation",
    "name": "",
    "display_name": "Lab validation",
    "status": "planned",
    "planned_start": "2026-03-02",
    "planned_end": "2026-03-29",
    "actual_start": None,
    "actual_end": None,
    "traffic_percent": "0.00",
    "exit_criteria": [_CRITERION],
}
_RACI = [
    {
        "id": 5,
        "key": "go_no_go",
        "name": "Go/no-go decision",
        "order": 5,
        "assignments": [
            {"username": "approver", "letter": "A"},
            {"username": "pm", "letter": "R"},
            {"username": "team", "letter": "C"},
        ],
    }
]
_READINESS = {
    "answers": [
        {
            "question": "steady_qps",
            "question_text": "Do you have steady high QPS?",
            "answer": "yes",
            "evidence": "https://dashboards.example.com/chat-qps",
            "answered_at": "2026-02-20T10:15:00Z",
        }
    ],
    "recommendation": "not_yet",
    "yes": 1,
    "no": 0,
    "unknown": 4,
    "summary": "Not yet: 1 of 5 answered yes, 0 no, 4 unknown (pilot when at least 3 are yes).",
}

PILOT_CREATE_REQUEST = _request(
    "Create a pilot",
    {
        "name": "Chat on CS-3",
        "model_name": "llama-3.1-70b-instruct",
        "description": "Chat assistant on the wafer-scale system.",
        "candidate_backend": "cs3-rack",
        "baseline_backend": "h100-cluster",
        "team": "chat",
        "cost_center": "CC-4100",
        "traffic_slice": "chat, EU",
        "target_start": "2026-03-02",
        "target_end": "2026-08-07",
    },
)
PILOT_PATCH_REQUEST = _request(
    "Move the target end", {"target_end": "2026-09-30", "traffic_slice": "chat, EU and US"}
)
PILOT_DETAIL_RESPONSE = _response(
    "The pilot",
    {
        "id": 12,
        "name": "Chat on CS-3",
        "model_name": "llama-3.1-70b-instruct",
        "status": "draft",
        "team": "chat",
        "cost_center": "CC-4100",
        "traffic_slice": "chat, EU",
        "target_start": "2026-03-02",
        "target_end": "2026-08-07",
        "candidate_backend": {"slug": "cs3-rack", "name": "CS-3 rack", "kind": "wafer_scale"},
        "baseline_backend": {"slug": "h100-cluster", "name": "H100 cluster", "kind": "gpu_cluster"},
        "current_phase": None,
        "description": "Chat assistant on the wafer-scale system.",
        "created_at": "2026-02-20T10:00:00Z",
        "updated_at": "2026-02-20T10:00:00Z",
        "phases": [],
        "raci": [{**_RACI[0], "assignments": []}],
        "readiness": {**_READINESS, "answers": [], "yes": 0, "unknown": 5},
    },
    status_code=201,
)
INVALID_RESPONSE = _response(
    "Invalid fields",
    {
        "error": {
            "code": "invalid",
            "message": "The request has invalid fields.",
            "fields": {
                "candidate_backend": ["No active backend has the slug cs9."],
                "pilot_id": ["Unknown field; the accepted fields are: ..."],
            },
        }
    },
    status_code=400,
)
CONFLICT_RESPONSE = _response(
    "Refused by the state",
    {
        "error": {
            "code": "conflict",
            "message": "Cannot start Shadow: Lab validation is still active.",
        }
    },
    status_code=409,
)
PHASE_CREATE_REQUEST = _request(
    "One phase",
    {
        "kind": "canary",
        "name": "Canary EU",
        "planned_start": "2026-05-11",
        "planned_end": "2026-06-28",
        "traffic_percent": "5",
    },
)
PHASE_DEFAULTS_REQUEST = _request("The default plan", {"defaults": True})
PHASES_CREATED_RESPONSE = _response("The phases created", {"phases": [_PHASE]}, status_code=201)
PHASE_PATCH_REQUEST = _request("Move a planned phase", {"planned_end": "2026-04-05"})
PHASE_START_REQUEST = _request("Started yesterday morning", {"started_at": "2026-03-02T08:30:00Z"})
PHASE_RESPONSE = _response(
    "The phase",
    {
        **_PHASE,
        "pilot": 12,
        "status": "active",
        "actual_start": "2026-03-02T08:30:00Z",
    },
)
CRITERION_REQUEST = _request(
    "p99 no worse than baseline",
    {
        "metric": "e2e_latency_p99",
        "comparison": "relative",
        "direction": "at_most",
        "threshold": "1.0",
        "critical": True,
        "weight": 1,
    },
)
CRITERION_PATCH_REQUEST = _request("Allow 5 % worse", {"threshold": "1.05", "critical": False})
CRITERION_RESPONSE = _response("The exit criterion", _CRITERION, status_code=201)
RACI_REQUEST = _request(
    "The whole matrix",
    [
        {
            "activity": "go_no_go",
            "assignments": [
                {"user": "approver", "letter": "A"},
                {"user": "pm", "letter": "R"},
                {"user": "team", "letter": "C"},
            ],
        },
        {
            "activity": "runtime_hardware",
            "assignments": [{"user": "team", "letter": "R"}, {"user": "pm", "letter": "A"}],
        },
        {"activity": "Data residency review", "assignments": []},
    ],
)
RACI_RESPONSE = _response("The matrix", _RACI)
RACI_INVALID_RESPONSE = _response(
    "A rule broken",
    {
        "error": {
            "code": "invalid",
            "message": "The request has invalid fields.",
            "fields": {"go_no_go": ["Go/no-go decision needs exactly one Accountable (A)."]},
        }
    },
    status_code=400,
)
READINESS_REQUEST = _request(
    "The checklist",
    [
        {
            "question": "steady_qps",
            "answer": "yes",
            "evidence": "https://dashboards.example.com/chat-qps",
        },
        {"question": "model_fits", "answer": "unknown", "evidence": ""},
    ],
)
READINESS_RESPONSE = _response("The checklist and the recommendation", _READINESS)
