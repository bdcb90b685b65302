from django.core.management.base import BaseCommand

from locking import service


class Command(BaseCommand):
    help = "Delete expired lock rows (run every 5 minutes by cron or Celery beat)."

    def handle(self, *args, **options):
        count = service.clear_expired()
        self.stdout.write(f"Cleared {count} expired lock(s).")
