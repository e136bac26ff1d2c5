"""API routes of the reviews app, mounted under /api/v1/."""

from django.urls import URLPattern, URLResolver, path
from rest_framework.routers import DefaultRouter

from reviews.api import redflags, views

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.include_format_suffixes = False
router.register("red-flags", redflags.RedFlagViewSet, basename="api-red-flag")

urlpatterns: list[URLPattern | URLResolver] = [
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
    *router.urls,
]
