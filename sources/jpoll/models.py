"""Progress channels: a one-way message stream from long work to a browser or the CLI (§9)."""

import datetime

from django.db import models


class Channel(models.Model):
    key = models.CharField(max_length=36, unique=True)  # UUID4
    user = models.CharField(max_length=150, blank=True, default="")
    created = models.DateTimeField(default=datetime.datetime.now, db_index=True)
    aborted = models.BooleanField(default=False)
    # The id of the last message handed to a caller that pulls "since the last pull".
    last_returned = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return self.key


class Message(models.Model):
    """One message; the auto-increment primary key is the strictly increasing id clients see."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="messages")
    type = models.CharField(max_length=16)
    time = models.DateTimeField(default=datetime.datetime.now)
    data = models.JSONField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.id} {self.type}"
