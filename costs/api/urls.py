"""API routes of the costs app, mounted under /api/v1/ (the backend
comparison is in ``priority_urls``, mounted before pilots' backends)."""

from django.urls import URLPattern, URLResolver, path
from rest_framework.routers import DefaultRouter

from costs.api import chargeback_urls, views

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.include_format_suffixes = False
router.register("cost-centers", views.CostCenterViewSet, basename="api-cost-center")
router.register("cost-models", views.CostModelViewSet, basename="api-cost-model")
router.register("usage-mappings", views.UsageMappingViewSet, basename="api-usage-mapping")
router.register("bills", views.BillImportViewSet, basename="api-bill")
router.register("bill-mappings", views.BillMappingViewSet, basename="api-bill-mapping")

urlpatterns: list[URLPattern | URLResolver] = [
    path("showback/", views.ShowbackView.as_view(), name="api-showback"),
    path(
        "pilots/<int:pk>/economics/",
        views.PilotEconomicsView.as_view(),
        name="api-pilot-economics",
    ),
    *router.urls,
    # Chargeback: closed months, statements, budgets
    *chargeback_urls.urlpatterns,
]
