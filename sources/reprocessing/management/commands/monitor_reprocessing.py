"""One pass of the reprocessing monitor (cron every 5 minutes via host/monitor_reprocessing)."""

from django.core.management.base import BaseCommand, CommandError

from reprocessing import monitor


class Command(BaseCommand):
    help = "Compute affected datasets if the operational context moved forward since the last pass."

    def handle(self, *args, **options):
        try:
            self.stdout.write(monitor.check())
        except monitor.MonitorError as exc:
            raise CommandError(str(exc)) from None
