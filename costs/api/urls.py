"""API routes of the costs app, mounted under /api/v1/."""

from django.urls import URLPattern

from costs.api import chargeback_urls

urlpatterns: list[URLPattern] = []
urlpatterns += chargeback_urls.urlpatterns
