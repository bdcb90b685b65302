"""Create the server's directories and bring its database schema up to date (called by ./install)."""

from django.core.management import call_command
from django.core.management.base import BaseCommand

from interactive import storage


class Command(BaseCommand):
    help = "Create every server directory and apply database migrations."

    def handle(self, *args, **options):
        storage.make_dirs()
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("Directories and database schema are ready.")
