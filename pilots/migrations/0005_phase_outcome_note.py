from typing import Any

from django.db import migrations, models

# The messages phase_pass/phase_fail/phase_skip wrote before they kept them
# on the phase: the defaults say nothing and are not copied.
DEFAULT_MESSAGES = {"passed", "failed", "skipped"}
ENDED = ("passed", "failed", "skipped")


def copy_outcome_notes(apps: Any, schema_editor: Any) -> None:
    """Fill outcome_note of ended phases from the change log's transition
    message (the latest update that moved the phase to its status)."""
    Phase = apps.get_model("pilots", "Phase")
    ChangeRecord = apps.get_model("portal", "ChangeRecord")
    ContentType = apps.get_model("contenttypes", "ContentType")
    content_type = ContentType.objects.filter(app_label="pilots", model="phase").first()
    if content_type is None:
        return
    for phase in Phase.objects.filter(status__in=ENDED, outcome_note=""):
        records = ChangeRecord.objects.filter(
            content_type=content_type, object_id=str(phase.pk), action="update"
        ).order_by("-at", "-id")
        for record in records:
            status = (record.changes or {}).get("status")
            if isinstance(status, list) and len(status) == 2 and status[1] == phase.status:
                if record.message and record.message not in DEFAULT_MESSAGES:
                    phase.outcome_note = record.message
                    phase.save(update_fields=["outcome_note"])
                break


class Migration(migrations.Migration):
    dependencies = [
        ("pilots", "0004_pilot_cost_center_foreign_key"),
        ("portal", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.AddField(
            model_name="phase",
            name="outcome_note",
            field=models.TextField(
                blank=True,
                help_text="Why the phase passed, failed or was skipped, as the transition gave it.",
            ),
        ),
        migrations.RunPython(copy_outcome_notes, migrations.RunPython.noop),
    ]
