"""Red flags raised from data (issue 12, §4): never typed by hand, raised and
cleared by ``reviews.services.redflags`` (a daily beat job, and after each
write that can change one)."""

from __future__ import annotations

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q

from pilots.models import Pilot

__all__ = ["RedFlag", "RedFlagKind", "RedFlagSeverity"]


class RedFlagKind(models.TextChoices):
    SLA_BREACH = "sla_breach", "SLA breach by the vendor"
    CONTRACT_ENDING = "contract_ending", "Contract ends or passes its notice date"
    SPARES_BELOW_REORDER = "spares_below_reorder", "Critical part below its reorder point"
    STANDBY_SHORTFALL = "standby_shortfall", "Fewer cold-standby units than recommended"
    FIRMWARE_DRIFT = "firmware_drift", "Units on different firmware versions"
    THERMAL_INSTABILITY = "thermal_instability", "Thermal instability"


class RedFlagSeverity(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


SEVERITY_RANK: dict[str, int] = {"critical": 0, "high": 1, "medium": 2, "low": 3}


class RedFlag(models.Model):
    """Something in the data that puts a pilot at risk. ``source`` is the
    object that shows it (an incident, contract, stock row, part or
    backend). The database holds "never duplicated while open": one open
    flag per kind, pilot and source."""

    Kind = RedFlagKind
    Severity = RedFlagSeverity

    kind = models.CharField(max_length=30, choices=RedFlagKind.choices)
    severity = models.CharField(max_length=10, choices=RedFlagSeverity.choices)
    pilot = models.ForeignKey(Pilot, on_delete=models.CASCADE, related_name="red_flags")
    source_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    source_id = models.CharField(max_length=64)
    source = GenericForeignKey("source_type", "source_id")
    source_label = models.CharField(max_length=200, help_text="What the source was, as shown.")
    detail = models.TextField()
    raised_at = models.DateTimeField()
    cleared_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-raised_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "pilot", "source_type", "source_id"],
                condition=Q(cleared_at__isnull=True),
                name="reviews_redflag_one_open_per_source",
                violation_error_message="This red flag is already open.",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=RedFlagKind.values), name="reviews_redflag_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(severity__in=RedFlagSeverity.values),
                name="reviews_redflag_severity_valid",
            ),
        ]
        indexes = [models.Index(fields=["pilot", "cleared_at"], name="reviews_redflag_pilot_open")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.source_label}"

    @property
    def is_open(self) -> bool:
        return self.cleared_at is None

    def audit_scope(self) -> str:
        return self.pilot.audit_scope()
