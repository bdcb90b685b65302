"""Database locks: one row per locked object, one holder at a time (server-behaviour.md §8)."""

from __future__ import annotations

import datetime

from django.db import models


class Lock(models.Model):
    """A named lock such as `instrument$acs`, held by one user until released or expired.

    `created_on` identifies one acquisition (it is part of the lock id, which a
    submission compares at confirm); `expires_on` slides forward as the holder
    works and is NULL for a lock that never expires (`max_age` 0).
    """

    locked_object = models.CharField(max_length=160, unique=True)
    type = models.CharField(max_length=32)
    name = models.CharField(max_length=120)
    user = models.CharField(max_length=150, db_index=True)
    created_on = models.DateTimeField(default=datetime.datetime.now)
    max_age = models.IntegerField(default=0, help_text="seconds; 0 = never expires")
    expires_on = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["locked_object"]

    def __str__(self) -> str:
        return self.lock_id

    @property
    def lock_id(self) -> str:
        return f"{self.type} - {self.name} - {self.user} - {self.created_on.isoformat()}"

    def is_expired(self, now: datetime.datetime | None = None) -> bool:
        return self.expires_on is not None and self.expires_on < (now or datetime.datetime.now())

    def time_remaining(self, now: datetime.datetime | None = None) -> datetime.timedelta | None:
        if self.expires_on is None:
            return None
        return max(self.expires_on - (now or datetime.datetime.now()), datetime.timedelta(0))
