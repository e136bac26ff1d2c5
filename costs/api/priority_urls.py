"""Costs routes that must come before other apps' (portal/urls.py mounts
this first): ``backends/compare/`` would otherwise be read as the backend
whose slug is "compare" by pilots' ``backends/<slug>/``."""

from django.urls import path

from costs.api import views

urlpatterns = [
    path("backends/compare/", views.BackendCompareView.as_view(), name="api-backend-compare"),
]
