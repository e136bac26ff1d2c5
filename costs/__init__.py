"""Costs: money only. Cost centers, cost models, allocation, showback,
chargeback periods and statements, FOCUS bills, budgets and finance exports."""
