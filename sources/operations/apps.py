from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """Operator work: backup, restore, mirroring, orphan checks, users, cron jobs (issue 6)."""

    name = "operations"

    def ready(self) -> None:
        from operations import alerts

        alerts.connect()
