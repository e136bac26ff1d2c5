"""What needs each person's attention, for the home page.

Apps register a provider in their ``AppConfig.ready()``::

    attention.register("pilots", pilots.attention.attention_cards)

A provider takes the user and returns the cards that user should see (by
their roles, RACI letters, cost centers...), each read in a constant number
of queries. The home page shows every provider's cards, in ``order``.
portal knows nothing of the domains: it holds the registry and the card's
shape, so apps above it (metrics, costs, reviews) add cards without the
pilots app importing them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias


@dataclass(frozen=True)
class CardItem:
    """One line of a card: what, where to go, and a short note."""

    text: str
    url: str = ""
    note: str = ""
    # A badge class of portal.css: "" (neutral), "warn", "bad", "ok"...
    tone: str = ""


@dataclass(frozen=True)
class Card:
    """A card on the home page. ``key`` is unique across apps
    ("pilots.overdue"); a card with no items shows ``empty``."""

    key: str
    title: str
    items: Sequence[CardItem] = field(default_factory=tuple)
    empty: str = "Nothing needs your attention here."
    link_url: str = ""
    link_text: str = ""
    # Lower first: the most urgent cards lead.
    order: int = 100
    # Items beyond those shown (a provider shows a few and counts the rest).
    more: int = 0


AttentionProvider: TypeAlias = Callable[[Any], Sequence[Card]]

_providers: dict[str, AttentionProvider] = {}


def register(name: str, provider: AttentionProvider) -> None:
    """Register (or replace) the provider called ``name``. Idempotent, so a
    ``ready()`` that runs twice registers once."""
    _providers[name] = provider


def unregister(name: str) -> None:
    _providers.pop(name, None)


def providers() -> dict[str, AttentionProvider]:
    """The registered providers by name (a copy)."""
    return dict(_providers)


def cards_for(user: Any) -> list[Card]:
    """Every provider's cards for ``user``, most urgent first; a key given
    twice (a user with two roles) shows once."""
    seen: set[str] = set()
    cards: list[Card] = []
    for provider in _providers.values():
        for card in provider(user):
            if card.key not in seen:
                seen.add(card.key)
                cards.append(card)
    return sorted(cards, key=lambda card: (card.order, card.key))
