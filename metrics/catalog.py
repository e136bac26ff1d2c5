"""The canonical metrics and the built-in source-name mappings.

The data migration ``0002_seed_catalog`` and the test fixtures call
``seed_catalog``; admins edit or add mappings afterwards. Non-GPU backends
(wafer-scale, TPU, FPGA) may send the canonical names directly: every
canonical name maps to itself without a mapping row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "BUILTIN_MAPPINGS",
    "CANONICAL_METRICS",
    "DCGM_SENTINELS",
    "ERROR_FINISH_REASONS",
    "MODEL_LABELS",
    "THROTTLE_MASK_BITS",
    "CanonicalMetric",
    "Mapping",
    "seed_catalog",
]

# Canonical names, used by selectors.
E2E_LATENCY = "request_latency_seconds"
TTFT = "time_to_first_token_seconds"
ITL = "inter_token_latency_seconds"
REQUESTS = "requests_total"
ERRORS = "errors_total"
PROMPT_TOKENS = "prompt_tokens_total"
GENERATION_TOKENS = "generation_tokens_total"
UTILIZATION = "device_utilization_percent"
POWER = "power_watts"
ENERGY = "energy_joules_total"
TEMPERATURE = "temperature_celsius"
THROTTLE_SECONDS = "throttle_seconds_total"
THROTTLE_ACTIVE = "throttle_active"
THROTTLE_EVENTS = "throttle_events_total"
XID_ERRORS = "xid_error_active"
# vLLM's per-request prefill and decode time: costs splits input/output cost by them.
PREFILL_TIME = "request_prefill_time_seconds"
DECODE_TIME = "request_decode_time_seconds"


@dataclass(frozen=True)
class CanonicalMetric:
    name: str
    unit: str
    kind: str  # MetricDefinition.Kind value
    description: str


@dataclass(frozen=True)
class Mapping:
    source_name: str
    metric: str
    scale: float = 1.0
    transform: str = "none"
    notes: str = ""
    extra_labels: tuple[tuple[str, str], ...] = ()


CANONICAL_METRICS: tuple[CanonicalMetric, ...] = (
    CanonicalMetric(E2E_LATENCY, "s", "histogram", "End-to-end request latency."),
    CanonicalMetric(TTFT, "s", "histogram", "Time to first token."),
    CanonicalMetric(ITL, "s", "histogram", "Inter-token latency (time per output token)."),
    CanonicalMetric(REQUESTS, "1", "counter", "Finished requests (every finish reason)."),
    CanonicalMetric(ERRORS, "1", "counter", "Failed requests, when the source counts them apart."),
    CanonicalMetric(PROMPT_TOKENS, "1", "counter", "Prompt (input) tokens processed."),
    CanonicalMetric(GENERATION_TOKENS, "1", "counter", "Generated (output) tokens."),
    CanonicalMetric(UTILIZATION, "%", "gauge", "Device utilization, 0-100."),
    CanonicalMetric(POWER, "W", "gauge", "Device power draw."),
    CanonicalMetric(ENERGY, "J", "counter", "Device energy consumed since boot."),
    CanonicalMetric(TEMPERATURE, "Cel", "gauge", "Device (die) temperature."),
    CanonicalMetric(THROTTLE_SECONDS, "s", "counter", "Time the clocks were throttled."),
    CanonicalMetric(
        THROTTLE_ACTIVE, "1", "gauge", "1 while a power or thermal throttle reason is active."
    ),
    CanonicalMetric(THROTTLE_EVENTS, "1", "counter", "Clock throttle events reported."),
    CanonicalMetric(
        XID_ERRORS, "1", "gauge", "1 while the device reports an XID (hardware) error."
    ),
    CanonicalMetric(PREFILL_TIME, "s", "histogram", "Time a request spent in prefill."),
    CanonicalMetric(DECODE_TIME, "s", "histogram", "Time a request spent in decode."),
)

# DCGM clock-event bits that mean throttling: power cap (4), HW slowdown (8),
# SW thermal (32), HW thermal (64), HW power brake (128). Idle (1), the
# application clock setting (2), sync boost (16) and display clocks (256)
# are not a hardware problem. Source: clock_event_reason_bits.csv.
THROTTLE_MASK_BITS = 4 | 8 | 32 | 64 | 128

# DCGM "blank / not found / not supported / not permissioned" sentinels that
# older exporters emit as sample values (dcgm_sentinel_values.csv).
DCGM_SENTINELS: frozenset[float] = frozenset(
    {
        2147483632.0,
        2147483633.0,
        2147483634.0,
        2147483635.0,
        # The four int64 sentinels (9223372036854775792..95) are one double.
        float(9223372036854775792),
        140737488355328.0,
        140737488355329.0,
        140737488355330.0,
        140737488355331.0,
    }
)

# vLLM's request_success_total carries finished_reason; these count as errors.
ERROR_FINISH_REASONS: tuple[str, ...] = ("error",)
# Label names that carry the model (vLLM: model_name).
MODEL_LABELS: tuple[str, ...] = ("model_name", "model")
COST_CENTER_LABEL = "cost_center"

BUILTIN_MAPPINGS: tuple[Mapping, ...] = (
    # vLLM (V0 and V1 names)
    Mapping("vllm:e2e_request_latency_seconds", E2E_LATENCY),
    Mapping("vllm:time_to_first_token_seconds", TTFT),
    Mapping("vllm:inter_token_latency_seconds", ITL),
    Mapping("vllm:time_per_output_token_seconds", ITL, notes="vLLM V0 name"),
    Mapping("vllm:request_success_total", REQUESTS, notes="finished_reason=error counts as error"),
    Mapping("vllm:prompt_tokens_total", PROMPT_TOKENS),
    Mapping("vllm:generation_tokens_total", GENERATION_TOKENS),
    Mapping("vllm:request_prefill_time_seconds", PREFILL_TIME),
    Mapping("vllm:request_decode_time_seconds", DECODE_TIME),
    # NVIDIA dcgm-exporter (2.x+ names and 1.x lower-case names)
    Mapping("DCGM_FI_DEV_GPU_UTIL", UTILIZATION),
    Mapping("dcgm_gpu_utilization", UTILIZATION, notes="dcgm-exporter 1.x"),
    Mapping("DCGM_FI_DEV_POWER_USAGE", POWER),
    Mapping("dcgm_power_usage", POWER, notes="dcgm-exporter 1.x"),
    Mapping("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", ENERGY, scale=0.001, notes="mJ → J"),
    Mapping("dcgm_total_energy_consumption", ENERGY, scale=0.001, notes="1.x, mJ → J"),
    Mapping("DCGM_FI_DEV_GPU_TEMP", TEMPERATURE),
    Mapping("dcgm_gpu_temp", TEMPERATURE, notes="dcgm-exporter 1.x"),
    Mapping(
        "DCGM_FI_DEV_POWER_VIOLATION",
        THROTTLE_SECONDS,
        scale=1e-9,
        notes="ns → s",
        extra_labels=(("reason", "power"),),
    ),
    Mapping(
        "DCGM_FI_DEV_THERMAL_VIOLATION",
        THROTTLE_SECONDS,
        scale=1e-9,
        notes="ns → s",
        extra_labels=(("reason", "thermal"),),
    ),
    Mapping("DCGM_FI_DEV_CLOCK_THROTTLE_REASONS", THROTTLE_ACTIVE, transform="throttle_mask"),
    Mapping("DCGM_FI_DEV_CLOCKS_EVENT_REASONS", THROTTLE_ACTIVE, transform="throttle_mask"),
    Mapping("DCGM_EXP_CLOCK_EVENTS_COUNT", THROTTLE_EVENTS),
    Mapping("DCGM_FI_EXP_CLOCK_THROTTLE_REASONS_COUNT", THROTTLE_EVENTS),
    Mapping("DCGM_FI_DEV_XID_ERRORS", XID_ERRORS, transform="nonzero", notes="last XID code"),
    Mapping("dcgm_xid_errors", XID_ERRORS, transform="nonzero", notes="dcgm-exporter 1.x"),
)


def seed_catalog(apps: Any = None) -> None:
    """Create or refresh the canonical metrics and built-in mappings.

    ``apps`` is the migration state registry; without it the live models are
    used (test fixtures, management commands). Admin edits to a built-in
    mapping's scale survive: existing rows are left alone.
    """
    if apps is None:
        from metrics import models

        definitions: Any = models.MetricDefinition
        mappings: Any = models.MetricMapping
    else:
        definitions = apps.get_model("metrics", "MetricDefinition")
        mappings = apps.get_model("metrics", "MetricMapping")
    by_name = {}
    for metric in CANONICAL_METRICS:
        definition, _ = definitions.objects.update_or_create(
            name=metric.name,
            defaults={"unit": metric.unit, "kind": metric.kind, "description": metric.description},
        )
        by_name[metric.name] = definition
    # Older migration states (0002) have no extra_labels column yet.
    has_extra = any(f.name == "extra_labels" for f in mappings._meta.get_fields())
    for mapping in BUILTIN_MAPPINGS:
        extra = {"extra_labels": dict(mapping.extra_labels)} if has_extra else {}
        row, created = mappings.objects.get_or_create(
            source_name=mapping.source_name,
            defaults={
                **extra,
                "metric": by_name[mapping.metric],
                "scale": mapping.scale,
                "transform": mapping.transform,
                "is_builtin": True,
                "notes": mapping.notes,
            },
        )
        if has_extra and not created and mapping.extra_labels and not row.extra_labels:
            row.extra_labels = dict(mapping.extra_labels)
            row.save(update_fields=["extra_labels"])
