"""Costs routes that must come before other apps' (portal/urls.py mounts
this first). Placeholder on the chargeback branch: the showback branch
brings the real module (take its version at merge)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
