"""Background work of the interactive app (Celery in production, in-process when embedded)."""

from celery import shared_task

from interactive import certify, delivery, submission


@shared_task(name="interactive.certify_ingest")
def certify_ingest(user: str, context: str, compare_old_reference: bool, channel: str, result_id: str,
                   result_url: str) -> str:
    return certify.certify_ingest(user, context, compare_old_reference, channel, result_id, result_url).name


@shared_task(name="interactive.update_delivery_status")
def update_delivery_status() -> int:
    """Store 'archived' for deliveries the archive has consumed (every 5 minutes); fails while the
    delivery area cannot be seen, so that the operators are told."""
    return delivery.update_delivery_status(strict=True)


@shared_task(name="interactive.remove_abandoned_uploads")
def remove_abandoned_uploads() -> int:
    """Remove records left by submissions whose worker died (hourly)."""
    return len(submission.remove_abandoned_uploads())
