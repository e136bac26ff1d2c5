from django.urls import URLPattern, URLResolver, path
from rest_framework.routers import DefaultRouter

from pilots.api import spares, vendors, views

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
# One URL per resource: no ".json" twins for clients and the permission test.
router.include_format_suffixes = False
# "api-" names: the pages already own "pilot-list", "backend-detail" and so on,
# and a shared name makes reverse() and the permission test pick only one.
router.register("vendors", vendors.VendorViewSet, basename="api-vendor")
router.register("backends", views.BackendViewSet, basename="api-backend")
router.register("pilots", views.PilotViewSet, basename="api-pilot")
router.register("phases", views.PhaseViewSet, basename="api-phase")
router.register("exit-criteria", views.ExitCriterionViewSet, basename="api-exit-criterion")

# Vendors, contracts, incidents and spares (issue 12): writable by procurement.
router.register("contracts", vendors.ContractViewSet, basename="api-contract")
router.register("incidents", vendors.IncidentViewSet, basename="api-incident")
router.register("sites", spares.SiteViewSet, basename="api-site")
router.register("parts", spares.PartViewSet, basename="api-part")
router.register("stock", spares.StockViewSet, basename="api-stock")
router.register("units", spares.UnitViewSet, basename="api-unit")
router.register("movements", spares.MovementViewSet, basename="api-movement")

urlpatterns: list[URLPattern | URLResolver] = [
    # Beside the router's backends/{slug}/ (and metrics' backends/{slug}/summary/).
    path(
        "backends/<slug:slug>/spares/",
        spares.BackendSparesView.as_view(),
        name="api-backend-spares",
    ),
    *router.urls,
]
