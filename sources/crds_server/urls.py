"""Root URL configuration: each app owns its URLs."""

from django.conf import settings
from django.contrib import admin
from django.contrib.staticfiles.views import serve as serve_static
from django.urls import include, path, re_path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("jsonapi.urls")),
    path("", include("jpoll.urls")),
    path("", include("locking.urls")),
    path("", include("fileupload.urls")),
    path("", include("stats.urls")),
    path("", include("reprocessing.urls")),
    path("", include("interactive.urls")),
]

if settings.EMBEDDED:
    # Django's own server serves static files straight from the apps (Apache serves the
    # collected copy in production), under the URL prefix like every other page.
    urlpatterns.append(re_path(r"^static/(?P<path>.*)$", serve_static, {"insecure": True}))
