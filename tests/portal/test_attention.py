"""The home page's card registry (portal.attention)."""

from typing import Any

from portal import attention


def test_cards_come_from_every_provider_most_urgent_first_once_per_key() -> None:
    def first(user: Any) -> list[attention.Card]:
        return [attention.Card(key="a.late", title="Late", order=20)]

    def second(user: Any) -> list[attention.Card]:
        return [
            attention.Card(key="b.urgent", title="Urgent", order=5),
            attention.Card(key="a.late", title="Late again", order=1),
        ]

    before = attention.providers()
    attention.register("test-first", first)
    attention.register("test-second", second)
    attention.register("test-second", second)  # registering twice replaces
    try:
        cards = [c for c in attention.cards_for(None) if c.key in {"a.late", "b.urgent"}]
    finally:
        attention.unregister("test-first")
        attention.unregister("test-second")
    assert [(c.key, c.title) for c in cards] == [("b.urgent", "Urgent"), ("a.late", "Late")]
    assert attention.providers() == before


def test_pilots_and_metrics_register_their_cards() -> None:
    assert {"pilots", "metrics"} <= set(attention.providers())
