"""Chargeback pages (mounted under /costs/ by ``costs.urls``)."""

from django.urls import path, register_converter

from costs import views_chargeback as views


class ExportFormat:
    regex = "csv|xlsx|focus"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(ExportFormat, "export")

urlpatterns = [
    path("chargeback/", views.period_list, name="chargeback-list"),
    path("chargeback/<str:period>/", views.period_detail, name="chargeback-period"),
    path("chargeback/<str:period>/close/", views.period_close_page, name="chargeback-close"),
    path("chargeback/<str:period>/restate/", views.period_restate_page, name="chargeback-restate"),
    path("chargeback/<str:period>/late/", views.period_late_check, name="chargeback-late-check"),
    path(
        "chargeback/<str:period>/showback.<export:fmt>",
        views.showback_export,
        name="showback-export",
    ),
    path(
        "chargeback/<str:period>/economics.<export:fmt>",
        views.economics_export,
        name="economics-export",
    ),
    path("statements/", views.statement_list, name="statement-list"),
    path("statements/<str:number>/", views.statement_detail, name="statement-detail"),
    path(
        "statements/<str:number>/export.<export:fmt>",
        views.statement_export,
        name="statement-export",
    ),
    path("budgets/", views.budget_list, name="budget-list"),
    path("budgets/<str:code>/", views.budget_save, name="budget-save"),
]
