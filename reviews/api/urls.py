"""API routes of the reviews app, mounted under /api/v1/."""

from django.urls import URLPattern, URLResolver
from rest_framework.routers import DefaultRouter

from reviews.api import redflags

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.include_format_suffixes = False
router.register("red-flags", redflags.RedFlagViewSet, basename="api-red-flag")

urlpatterns: list[URLPattern | URLResolver] = [*router.urls]
