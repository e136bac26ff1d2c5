"""Pages of the reviews app."""

from django.urls import URLPattern, path

from reviews import views

urlpatterns: list[URLPattern] = [
    path("pilots/<int:pk>/panel/", views.pilot_reviews_panel, name="reviews-pilot-panel"),
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
