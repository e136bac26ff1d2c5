from django.urls import path

from metrics import views

urlpatterns = [
    path("imports/", views.import_list, name="import-list"),
    path("imports/new/", views.import_create, name="import-create"),
    path("imports/<int:pk>/", views.import_detail, name="import-detail"),
    path("imports/<int:pk>/progress/", views.import_progress, name="import-progress"),
    path(
        "backends/<slug:slug>/panel/",
        views.backend_metrics_panel,
        name="metrics-backend-panel",
    ),
    path("pilots/<int:pk>/panel/", views.pilot_metrics_panel, name="metrics-pilot-panel"),
]
