"""Pages of the costs app."""

from django.urls import URLPattern

from costs import urls_chargeback

urlpatterns: list[URLPattern] = []
urlpatterns += urls_chargeback.urlpatterns
