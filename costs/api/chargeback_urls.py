"""Chargeback API routes (mounted under /api/v1/ by ``costs.api.urls``)."""

from django.urls import path

from costs.api import chargeback as views

urlpatterns = [
    path("chargeback/", views.PeriodListView.as_view(), name="api-chargeback-list"),
    path(
        "chargeback/<str:period>/statements/",
        views.PeriodStatementsView.as_view(),
        name="api-chargeback-statements",
    ),
    path(
        "chargeback/<str:period>/close/",
        views.PeriodCloseView.as_view(),
        name="api-chargeback-close",
    ),
    path(
        "chargeback/<str:period>/restate/",
        views.PeriodRestateView.as_view(),
        name="api-chargeback-restate",
    ),
    path(
        "statements/<str:number>/",
        views.StatementDetailView.as_view(),
        name="api-statement-detail",
    ),
    path(
        "cost-centers/<str:code>/budget/",
        views.BudgetView.as_view(),
        name="api-cost-center-budget",
    ),
]
