from django.urls import path

from fileupload import views

urlpatterns = [
    path("upload/", views.upload_page, name="upload_page"),
    path("upload/new/", views.upload_new, name="upload_new"),
    path("upload/chunked/", views.upload_chunked, name="upload_chunked"),
    path("upload/list/", views.upload_list, name="upload_list"),
    path("upload/delete/<str:name>", views.upload_delete, name="upload_delete"),
]
