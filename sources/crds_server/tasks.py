"""Tasks of the server itself: a ping that proves a worker runs with this server's settings."""

import getpass
import os

from celery import shared_task
from django.conf import settings
from django.core.cache import cache


@shared_task(name="crds_server.tasks.ping")
def ping(token: str) -> dict:
    """Answer who ran the task, and leave `token` in the web cache so a caller can see the worker's cache."""
    cache.set("crds_server.ping", token, 300)
    return {
        "token": token,
        "observatory": settings.CRDS_OBSERVATORY,
        "usecase": settings.CRDS_USECASE,
        "user": getpass.getuser(),
        "pid": os.getpid(),
    }
