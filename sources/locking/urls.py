from django.urls import path

from locking import views

urlpatterns = [
    path("login/", views.login, name="login"),
    path("logout/", views.logout, name="logout"),
    path("lock_status/", views.lock_status, name="lock_status_self"),
    path("lock_status/<str:user>/", views.lock_status, name="lock_status"),
]
