from django.core.management.base import BaseCommand, CommandError

from interactive import delivery, storage


class Command(BaseCommand):
    help = ("Rebuild deliveries from their permanent catalogs: clear each catalog's entries from the delivery "
            "directories, then link its files and the catalog again (recovery after a failed archive).")

    def add_arguments(self, parser):
        parser.add_argument("catalogs", nargs="+", help="catalog names, e.g. opus_12_i.cat")

    def handle(self, *args, **options):
        for name in options["catalogs"]:
            try:
                made = delivery.redeliver(name)
            except (delivery.DeliveryError, storage.BadName) as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(f"Redelivered {made.catalog} with {len(made.files)} file(s).")
