"""Metrics ingestion: catalog, parsers, format detection, storage, rollups
and histogram quantiles."""
