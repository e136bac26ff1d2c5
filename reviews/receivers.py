"""Receivers of signals sent by the apps below reviews (connected in
``reviews.apps.ReviewsConfig.ready``)."""

from __future__ import annotations

from typing import Any

__all__ = ["on_import_succeeded", "on_vendor_data_changed"]


def on_vendor_data_changed(sender: Any, backend_ids: list[int] | None = None, **_: Any) -> None:
    """A contract, incident, stock or unit write committed: re-evaluate the
    red flags of the pilots on the backends it touched."""
    from reviews.tasks_redflags import evaluate_red_flags

    if backend_ids is not None and not backend_ids:
        return
    evaluate_red_flags.delay(backend_ids=backend_ids)


def on_import_succeeded(sender: Any, backend_id: int, **_: Any) -> None:
    """A metrics import committed: the thermal flag of the pilots on its
    backend reads the metrics of the last 7 days, so re-evaluate them."""
    from reviews.tasks_redflags import evaluate_red_flags

    evaluate_red_flags.delay(backend_ids=[backend_id])
