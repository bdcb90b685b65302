"""Create the server's directories, bring its database schema up to date and collect static files (./install)."""

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from interactive import delivery, storage


class Command(BaseCommand):
    help = "Create every server directory, apply database migrations and collect static files."

    def handle(self, *args, **options):
        storage.make_dirs()
        call_command("migrate", interactive=False, verbosity=0)
        # Apache serves $CRDS/server/static in production; Django's server finds them itself when embedded.
        call_command("collectstatic", interactive=False, verbosity=0)
        self.stdout.write(f"Directories, database schema and static files ({settings.STATIC_ROOT}) are ready.")
        for directory in delivery.delivery_dirs():  # the archive's area: not ours to create
            if not directory.is_dir():
                self.stdout.write(f"Warning: the delivery directory {directory} (CRDS_DELIVERY_DIRS) does not "
                                  "exist: confirms are refused until it does (mount the archive's delivery area).")
            elif not delivery.area_visible(directory):
                self.stdout.write(f"Warning: the delivery directory {directory} (CRDS_DELIVERY_DIRS) is not "
                                  f"readable or not on the file system of {settings.CRDS_FILE_CACHE}: deliveries "
                                  "are hard links from the file cache and will fail.")
