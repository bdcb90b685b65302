from django.urls import path, re_path

from jpoll import views

urlpatterns = [
    re_path(r"^jpoll/open_channel/?$", views.open_channel, name="jpoll_open_channel"),
    path("jpoll/pull_messages/<str:key>/<str:since_id>/", views.pull_messages, name="jpoll_pull_messages"),
    path("monitor/<str:key>/", views.monitor, name="jpoll_monitor"),
]
