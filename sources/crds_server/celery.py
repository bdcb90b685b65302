"""Celery application: background work in the production stack.

In the embedded stack CELERY_TASK_ALWAYS_EAGER runs every task in-process, so
callers use the same `task.delay(...)` whatever the stack.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crds_server.settings")

app = Celery("crds_server")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
