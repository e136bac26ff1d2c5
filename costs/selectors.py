"""Selectors of the costs app (filled by the issues that build it)."""
