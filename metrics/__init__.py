"""Metrics: the canonical catalogue and mappings, import jobs, parsers,
bulk storage, hourly rollups, quantiles, summaries and scheduled pulls."""
