"""Webhook secrets written to the change log before it kept only their
keyed fingerprints are replaced by those fingerprints: the log is read by
everyone who reads the pilot (``reviews.services._common.secret_fingerprint``
computes the same ``hmac:`` form). Irreversible by design."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from django.conf import settings
from django.db import migrations


def _fingerprint(value: Any) -> Any:
    if not isinstance(value, str) or not value or value.startswith("hmac:"):
        return value
    mac = hmac.new(settings.SECRET_KEY.encode(), value.encode(), hashlib.sha256)
    return f"hmac:{mac.hexdigest()[:12]}"


def mask_webhook_secrets(apps: Any, schema_editor: Any) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    ChangeRecord = apps.get_model("portal", "ChangeRecord")
    webhook = ContentType.objects.filter(app_label="reviews", model="webhook").first()
    if webhook is None:
        return
    for record in ChangeRecord.objects.filter(content_type=webhook).iterator():
        changes = record.changes
        if not isinstance(changes, dict) or "secret" not in changes:
            continue
        secret = changes["secret"]
        masked = (
            [_fingerprint(v) for v in secret] if isinstance(secret, list) else _fingerprint(secret)
        )
        if masked != secret:
            record.changes = {**changes, "secret": masked}
            record.save(update_fields=["changes"])


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0003_red_flags"),
        ("portal", "0002_notification"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(mask_webhook_secrets, migrations.RunPython.noop)]
