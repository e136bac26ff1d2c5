"""Pages of the costs app (mounted under /costs/)."""

from django.urls import URLPattern, path

from costs import urls_chargeback, views

urlpatterns: list[URLPattern] = [
    # Showback
    path("showback/", views.showback, name="showback"),
    path("compare/", views.backend_compare, name="backend-compare"),
    path("cost-models/", views.cost_model_list, name="cost-model-list"),
    path("cost-centers/", views.cost_center_list, name="cost-center-list"),
    path("usage-mappings/", views.usage_mapping_list, name="usage-mapping-list"),
    path("unmapped/", views.unmapped_usage, name="unmapped-usage"),
    path("unmapped/map/", views.unmapped_map, name="unmapped-map"),
    path("pilots/<int:pk>/panel/", views.pilot_economics_panel, name="costs-pilot-panel"),
    # FOCUS bills
    path("bills/", views.bill_list, name="bill-list"),
    path("bills/new/", views.bill_create, name="bill-create"),
    path("bills/unmatched/", views.bill_unmatched, name="bill-unmatched"),
    path("bills/<int:bill_pk>/", views.bill_detail, name="bill-detail"),
    path("bills/<int:bill_pk>/progress/", views.bill_progress, name="bill-progress"),
    path("bills/mappings/", views.bill_mapping_list, name="bill-mapping-list"),
    path("bills/mappings/new/", views.bill_mapping_create, name="bill-mapping-create"),
    path(
        "bills/mappings/<int:mapping_pk>/edit/",
        views.bill_mapping_edit,
        name="bill-mapping-edit",
    ),
    path(
        "bills/mappings/<int:mapping_pk>/delete/",
        views.bill_mapping_delete,
        name="bill-mapping-delete",
    ),
    # Chargeback: closed months, statements, budgets
    *urls_chargeback.urlpatterns,
]
