from django.urls import path

from costs import views

urlpatterns = [
    path(
        "backends/<slug:slug>/panel/",
        views.backend_metrics_panel,
        name="metrics-backend-panel",
    ),
    path("pilots/<int:pk>/panel/", views.pilot_metrics_panel, name="metrics-pilot-panel"),
]
