"""Root URL configuration: each app owns its URLs."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("jsonapi.urls")),
    path("", include("jpoll.urls")),
    path("", include("locking.urls")),
    path("", include("fileupload.urls")),
    path("", include("stats.urls")),
    path("", include("interactive.urls")),
]
