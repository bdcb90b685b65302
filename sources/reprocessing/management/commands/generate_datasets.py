"""Generate synthetic datasets from the rules of a context, into the catalog or a JSON-lines file."""

import json
from itertools import islice

from django.core.management.base import BaseCommand, CommandError

from reprocessing import compute, loader, synthetic


class Command(BaseCommand):
    help = "Generate COUNT realistic synthetic datasets per instrument from CONTEXT's rmaps."

    def add_arguments(self, parser):
        parser.add_argument("--context", required=True, help="pipeline mapping whose rules drive the generator")
        parser.add_argument("--instruments", nargs="+", required=True)
        parser.add_argument("--count", type=int, default=10_000, help="datasets per instrument")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--output", help="write JSON lines here instead of loading the catalog")

    def handle(self, *args, **options):
        try:
            compute.load_context(options["context"])
        except compute.ComputationError as exc:
            raise CommandError(f"Cannot load context {options['context']!r}: {exc}") from None
        known = loader.instruments()
        bad = [i for i in options["instruments"] if i.lower() not in known]
        if bad:
            raise CommandError(f"Unknown instrument(s) {', '.join(bad)}: use {', '.join(sorted(known))}.")
        if not 1 <= options["count"] <= 5_000_000:
            raise CommandError("--count must be between 1 and 5,000,000.")
        total = 0
        out = open(options["output"], "w") if options["output"] else None
        try:
            for instrument in options["instruments"]:
                rows = synthetic.generate(options["context"], instrument, options["count"], seed=options["seed"])
                while True:
                    batch = list(islice(rows, 20_000))
                    if not batch:
                        break
                    if out:
                        out.writelines(json.dumps({"id": i, "header": h}) + "\n" for i, h in batch)
                    else:
                        loader.store([loader.make_dataset(i, h, known) for i, h in batch])
                    total += len(batch)
        finally:
            if out:
                out.close()
        self.stdout.write(f"Generated {total} datasets.")
