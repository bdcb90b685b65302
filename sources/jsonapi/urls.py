"""JSON-RPC and file distribution URLs."""

from django.urls import path, re_path

from jsonapi import downloads, views

urlpatterns = [
    path("json/", views.dispatch, name="json"),
    re_path(r"^json/.+$", views.dispatch),
    path("get/<str:name>", downloads.brokered_get, name="crds-get"),
    path("get/<str:name>/", downloads.brokered_get),
    path("unchecked_get/<str:kind>/<str:observatory>/", downloads.download_area, name="unchecked-get-dir"),
    path("unchecked_get/<str:kind>/<str:observatory>/<str:name>", downloads.unchecked_get, name="unchecked-get"),
]
