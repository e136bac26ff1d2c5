from rest_framework.routers import DefaultRouter

from pilots.api import views

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
# One URL per resource: no ".json" twins for clients and the permission test.
router.include_format_suffixes = False
# "api-" names: the pages already own "pilot-list", "backend-detail" and so on,
# and a shared name makes reverse() and the permission test pick only one.
router.register("vendors", views.VendorViewSet, basename="api-vendor")
router.register("backends", views.BackendViewSet, basename="api-backend")
router.register("pilots", views.PilotViewSet, basename="api-pilot")
router.register("phases", views.PhaseViewSet, basename="api-phase")
router.register("exit-criteria", views.ExitCriterionViewSet, basename="api-exit-criterion")

urlpatterns = router.urls
