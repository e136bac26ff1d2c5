"""Metrics, cost models, allocation, showback and chargeback."""
