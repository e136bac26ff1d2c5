"""API routes of the costs app, mounted under /api/v1/."""

from django.urls import URLPattern, URLResolver
from rest_framework.routers import DefaultRouter

from costs.api import views

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.include_format_suffixes = False
router.register("bills", views.BillImportViewSet, basename="api-bill")
router.register("bill-mappings", views.BillMappingViewSet, basename="api-bill-mapping")

urlpatterns: list[URLPattern | URLResolver] = [*router.urls]
