from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, include, path

from portal import apidocs, views

handler403 = "portal.views.permission_denied"
handler404 = "portal.views.page_not_found"
handler500 = "portal.views.server_error"

api_v1: list[URLPattern | URLResolver] = [
    # Before pilots' backends/<slug>/: "compare" is not a backend.
    path("", include("costs.api.priority_urls")),
    path("", include("pilots.api.urls")),
    path("", include("metrics.api.urls")),
    path("", include("costs.api.urls")),
    path("", include("reviews.api.urls")),
    path("schema/", apidocs.SchemaView.as_view(), name="api-schema"),
    # Pages for people (portal/apidocs.py): logged out, they go to the login page.
    path("schema/swagger/", apidocs.SwaggerView.as_view(url_name="api-schema"), name="api-swagger"),
    path("schema/redoc/", apidocs.RedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("schema/redoc/redoc.standalone.js", apidocs.redoc_bundle, name="api-redoc-bundle"),
]

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("account/", include("portal.account_urls")),
    path("metrics/", include("metrics.urls")),
    path("costs/", include("costs.urls")),
    path("reviews/", include("reviews.urls")),
    path("", include("pilots.urls")),
]
