"""Create the server's directories, bring its database schema up to date and collect static files (./install)."""

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from interactive import storage


class Command(BaseCommand):
    help = "Create every server directory, apply database migrations and collect static files."

    def handle(self, *args, **options):
        storage.make_dirs()
        call_command("migrate", interactive=False, verbosity=0)
        # Apache serves $CRDS/server/static in production; Django's server finds them itself when embedded.
        call_command("collectstatic", interactive=False, verbosity=0)
        self.stdout.write(f"Directories, database schema and static files ({settings.STATIC_ROOT}) are ready.")
