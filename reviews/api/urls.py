"""API routes of the reviews app, mounted under /api/v1/."""

from django.urls import URLPattern, path

from reviews.api import views

urlpatterns: list[URLPattern] = [
    path(
        "pilots/<int:pilot_id>/reviews/",
        views.PilotReviewsView.as_view(),
        name="api-pilot-reviews",
    ),
    path("reviews/<int:pk>/", views.ReviewDetailView.as_view(), name="api-review-detail"),
    path(
        "reviews/<int:pk>/decision/",
        views.ReviewDecisionView.as_view(),
        name="api-review-decision",
    ),
    path(
        "reviews/<int:pk>/objections/",
        views.ReviewObjectionsView.as_view(),
        name="api-review-objections",
    ),
    path(
        "objections/<int:pk>/resolve/",
        views.ObjectionResolveView.as_view(),
        name="api-objection-resolve",
    ),
]
