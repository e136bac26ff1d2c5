"""Pages of the reviews app."""

from django.urls import URLPattern, path

from reviews import views_redflags

urlpatterns: list[URLPattern] = [
    path("red-flags/", views_redflags.red_flag_list_page, name="red-flag-list"),
    path(
        "red-flags/pilot/<int:pilot_pk>/",
        views_redflags.pilot_red_flags_panel,
        name="red-flag-pilot-panel",
    ),
    path(
        "red-flags/summary/", views_redflags.red_flags_summary_panel, name="red-flag-summary-panel"
    ),
]
