from django.core.management.base import BaseCommand

from interactive import delivery


class Command(BaseCommand):
    help = "Store 'archived' on delivered files whose catalog the archive has consumed (every 5 minutes)."

    def handle(self, *args, **options):
        count = delivery.update_delivery_status()
        self.stdout.write(f"{count} file(s) now archived.")
