"""Load the dataset catalog from CSV, JSON-lines or FITS files (all rows or none)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from reprocessing.loader import LoadError, load_files


class Command(BaseCommand):
    help = ("Load datasets from .csv (dataset_id,KEYWORD,...), .jsonl ({\"id\":..., \"header\":{...}} per line) "
            "or .fits (primary header; id ASN_ID:ROOTNAME) files.  A bad row loads nothing.")

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+")

    def handle(self, *args, **options):
        paths = [Path(p) for p in options["files"]]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise CommandError(f"No such file: {', '.join(missing)}")
        try:
            count = load_files(paths)
        except LoadError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Loaded {count} datasets.")
