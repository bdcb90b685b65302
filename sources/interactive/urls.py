from django.urls import path

from interactive import views

urlpatterns = [
    path("", views.index, name="index"),
]
