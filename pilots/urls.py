from django.urls import path

from pilots import views

urlpatterns = [
    path("", views.home, name="home"),
]
