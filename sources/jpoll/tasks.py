"""Periodic jobs of the jpoll app, run by Celery beat in production."""

from celery import shared_task

from jpoll import service


@shared_task(name="jpoll.expire_channels")
def expire_channels() -> int:
    return service.expire()
