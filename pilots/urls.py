from django.urls import path

from pilots import views, views_vendors

urlpatterns = [
    path("", views.home, name="home"),
    path("pilots/", views.PilotListView.as_view(), name="pilot-list"),
    path("pilots/new/", views.PilotCreateView.as_view(), name="pilot-create"),
    path("pilots/<int:pk>/", views.PilotDetailView.as_view(), name="pilot-detail"),
    path("pilots/<int:pk>/edit/", views.PilotEditView.as_view(), name="pilot-edit"),
    path("pilots/<int:pk>/phases/", views.PilotPhasesView.as_view(), name="pilot-phases"),
    path(
        "pilots/<int:pk>/phases/plan-defaults/",
        views.PlanDefaultsView.as_view(),
        name="pilot-plan-defaults",
    ),
    path("pilots/<int:pk>/phases/new/", views.PhaseCreateView.as_view(), name="phase-create"),
    path("phases/<int:phase_pk>/edit/", views.PhaseEditView.as_view(), name="phase-edit"),
    path("phases/<int:phase_pk>/start/", views.PhaseStartView.as_view(), name="phase-start"),
    path("phases/<int:phase_pk>/remove/", views.PhaseRemoveView.as_view(), name="phase-remove"),
    path("phases/<int:phase_pk>/move/", views.PhaseMoveView.as_view(), name="phase-move"),
    path(
        "phases/<int:phase_pk>/criteria/new/",
        views.CriterionCreateView.as_view(),
        name="criterion-create",
    ),
    path(
        "criteria/<int:criterion_pk>/edit/",
        views.CriterionEditView.as_view(),
        name="criterion-edit",
    ),
    path(
        "criteria/<int:criterion_pk>/delete/",
        views.CriterionDeleteView.as_view(),
        name="criterion-delete",
    ),
    path("pilots/<int:pk>/raci/", views.PilotRaciView.as_view(), name="pilot-raci"),
    path(
        "pilots/<int:pk>/raci/activities/",
        views.ActivityAddView.as_view(),
        name="raci-activity-add",
    ),
    path(
        "pilots/<int:pk>/raci/activities/<int:activity_pk>/remove/",
        views.ActivityRemoveView.as_view(),
        name="raci-activity-remove",
    ),
    path("pilots/<int:pk>/readiness/", views.PilotReadinessView.as_view(), name="pilot-readiness"),
    path("pilots/<int:pk>/changes/", views.PilotChangelogView.as_view(), name="pilot-changelog"),
    path("backends/", views.BackendListView.as_view(), name="backend-list"),
    path("backends/<slug:slug>/", views.BackendDetailView.as_view(), name="backend-detail"),
    # Vendors, contracts, incidents and spares (issue 12).
    path("vendors/", views_vendors.vendor_list, name="vendor-list"),
    path("vendors/<slug:vendor_slug>/", views_vendors.vendor_detail, name="vendor-detail"),
    path("vendors/<slug:vendor_slug>/edit/", views_vendors.vendor_edit, name="vendor-edit"),
    path(
        "vendors/<slug:vendor_slug>/compliance.csv",
        views_vendors.vendor_compliance_csv,
        name="vendor-compliance-csv",
    ),
    path("contracts/new/", views_vendors.contract_form_page, name="contract-create"),
    path(
        "contracts/<int:contract_pk>/edit/",
        views_vendors.contract_form_page,
        name="contract-edit",
    ),
    path(
        "contracts/<int:contract_pk>/compliance.csv",
        views_vendors.contract_compliance_csv,
        name="contract-compliance-csv",
    ),
    path(
        "contracts/<int:contract_pk>/incidents/new/",
        views_vendors.incident_form_page,
        name="incident-create",
    ),
    path(
        "incidents/<int:incident_pk>/edit/", views_vendors.incident_form_page, name="incident-edit"
    ),
    path("procurement/", views_vendors.procurement_page, name="procurement"),
    path("spares/", views_vendors.spares_page, name="spares"),
    path("spares/movements/new/", views_vendors.movement_create, name="movement-create"),
    path("spares/inventory.csv", views_vendors.inventory_csv, name="inventory-csv"),
    path("backends/<slug:slug>/spares/", views_vendors.backend_spares_page, name="backend-spares"),
]
