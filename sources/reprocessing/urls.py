from django.urls import path

from reprocessing import views

urlpatterns = [
    path("reprocessing/", views.computations, name="reprocessing"),
    path("reprocessing/<int:computation_id>/progress/", views.progress, name="reprocessing_progress"),
    path("reprocessing/<int:computation_id>/affected_ids.txt", views.affected_ids, name="reprocessing_ids"),
]
