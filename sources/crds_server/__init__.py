"""The CRDS server's Django project.

Loading the Celery application here binds every `@shared_task` to it, so
`task.delay()` runs in-process (embedded) or goes to Redis (production).
"""

from crds_server.celery import app as celery_app

__all__ = ("celery_app",)
