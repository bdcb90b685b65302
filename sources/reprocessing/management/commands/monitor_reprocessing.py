"""One pass of the reprocessing monitor (cron every 5 minutes via host/monitor_reprocessing)."""

from django.core.management.base import BaseCommand

from reprocessing import monitor


class Command(BaseCommand):
    help = "Compute affected datasets if the operational context moved forward since the last pass."

    def handle(self, *args, **options):
        self.stdout.write(monitor.check())
