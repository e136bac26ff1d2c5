"""Pages of the reviews app."""

from django.urls import URLPattern, path

from reviews import views, views_redflags, views_settings

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
    path("pilots/<int:pk>/panel/", views.pilot_reviews_panel, name="reviews-pilot-panel"),
    path("pilots/<int:pk>/settings/", views_settings.review_settings_page, name="review-settings"),
    path(
        "pilots/<int:pk>/webhooks/new/",
        views_settings.webhook_create_page,
        name="webhook-create",
    ),
    path("webhooks/<int:webhook_pk>/edit/", views_settings.webhook_edit_page, name="webhook-edit"),
    path("<int:pk>/", views.review_detail, name="review-detail"),
    path("<int:pk>/decide/", views.review_decide_page, name="review-decide"),
    path("<int:pk>/objections/", views.review_object_page, name="review-object"),
    path(
        "objections/<int:objection_pk>/resolve/",
        views.objection_resolve_page,
        name="review-objection-resolve",
    ),
    path("<int:pk>/record/", views.review_record, name="review-record"),
    path("<int:pk>/record.json", views.review_record_json, name="review-record-json"),
]
