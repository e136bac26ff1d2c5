from rest_framework.routers import DefaultRouter

from pilots.api import views

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
# One URL per resource: no ".json" twins for clients and the permission test.
router.include_format_suffixes = False
router.register("vendors", views.VendorViewSet, basename="vendor")
router.register("backends", views.BackendViewSet, basename="backend")
router.register("pilots", views.PilotViewSet, basename="pilot")

urlpatterns = router.urls
