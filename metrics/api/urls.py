from django.urls import path
from rest_framework.routers import DefaultRouter

from metrics.api import views

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.include_format_suffixes = False
router.register("imports", views.ImportJobViewSet, basename="import-job")

# pilots.api.urls is included first and serves backends/{slug}/; its detail
# pattern does not match .../summary/, so this one is reached.
urlpatterns = [
    path(
        "backends/<slug:slug>/summary/",
        views.BackendSummaryView.as_view(),
        name="backend-metrics-summary",
    ),
    *router.urls,
]
