"""Pages of the costs app (mounted under /costs/)."""

from django.urls import path

from costs import views

urlpatterns = [
    path("showback/", views.showback, name="showback"),
    path("compare/", views.backend_compare, name="backend-compare"),
    path("cost-models/", views.cost_model_list, name="cost-model-list"),
    path("cost-centers/", views.cost_center_list, name="cost-center-list"),
    path("usage-mappings/", views.usage_mapping_list, name="usage-mapping-list"),
    path("unmapped/", views.unmapped_usage, name="unmapped-usage"),
    path("unmapped/map/", views.unmapped_map, name="unmapped-map"),
    path("pilots/<int:pk>/panel/", views.pilot_economics_panel, name="costs-pilot-panel"),
]
