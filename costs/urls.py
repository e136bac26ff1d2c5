"""Pages of the costs app."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
