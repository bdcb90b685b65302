from django.urls import path

from stats import views

urlpatterns = [
    path("stats/", views.request_stats, name="request_stats"),
]
