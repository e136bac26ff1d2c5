from django.urls import path

from pilots import views

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
]
