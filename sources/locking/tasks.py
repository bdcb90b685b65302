"""Periodic jobs of the locking app, run by Celery beat in production."""

from celery import shared_task

from locking import service


@shared_task(name="locking.clear_expired_locks")
def clear_expired_locks() -> int:
    return service.clear_expired()
