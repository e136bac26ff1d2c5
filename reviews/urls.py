"""Pages of the reviews app."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
