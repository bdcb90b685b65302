"""Request statistics: one row per request, written in batches by the middleware."""

import datetime

from django.db import models


class RequestRecord(models.Model):
    time = models.DateTimeField(default=datetime.datetime.now, db_index=True)
    path = models.CharField(max_length=255)
    method = models.CharField(max_length=80, blank=True, default="")  # JSON-RPC method, if any
    user = models.CharField(max_length=150, blank=True, default="")
    status = models.PositiveSmallIntegerField()
    duration = models.FloatField(help_text="seconds")

    def __str__(self) -> str:
        return f"{self.time} {self.path} {self.status} {self.duration:.3f}s"
