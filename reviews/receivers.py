"""Receivers of signals sent by the apps below reviews (connected in
``reviews.apps.ReviewsConfig.ready``)."""

from __future__ import annotations

from typing import Any

__all__ = ["on_vendor_data_changed"]


def on_vendor_data_changed(sender: Any, backend_ids: list[int] | None = None, **_: Any) -> None:
    """A contract, incident, stock or unit write committed: re-evaluate the
    red flags of the pilots on the backends it touched."""
    from reviews.tasks_redflags import evaluate_red_flags

    if backend_ids is not None and not backend_ids:
        return
    evaluate_red_flags.delay(backend_ids=backend_ids)
