"""Compute the datasets affected by a context change, or resume an unfinished computation."""

import time

from django.core.management.base import BaseCommand, CommandError

from reprocessing import compute
from reprocessing.models import Computation


class Command(BaseCommand):
    help = "Compute affected datasets for OLD --> NEW (or --resume ID), optionally waiting for the result."

    def add_arguments(self, parser):
        parser.add_argument("old_context", nargs="?")
        parser.add_argument("new_context", nargs="?")
        parser.add_argument("--resume", type=int, help="compute again the chunks of computation ID not done "
                                                       "(interrupted, failed, or held by lost workers)")
        parser.add_argument("--chunk-size", type=int)
        parser.add_argument("--wait", action="store_true", help="wait until the computation has finished")
        parser.add_argument("--timeout", type=float, default=3600.0)

    def handle(self, *args, **options):
        began = time.monotonic()
        try:
            if options["resume"]:
                comp = Computation.objects.filter(id=options["resume"]).first()
                if comp is None:
                    raise CommandError(f"No computation {options['resume']}.")
                compute.resume(comp)
            elif options["old_context"] and options["new_context"]:
                comp = compute.start(options["old_context"], options["new_context"], chunk_size=options["chunk_size"])
            else:
                raise CommandError("Give OLD and NEW contexts, or --resume ID.")
        except compute.ComputationError as exc:
            raise CommandError(str(exc)) from None
        dispatched = time.monotonic()
        if options["wait"]:
            deadline = time.monotonic() + options["timeout"]
            while time.monotonic() < deadline:
                comp.refresh_from_db()
                if comp.state in ("done", "failed"):
                    break
                time.sleep(0.2)
            else:
                raise CommandError(f"Computation {comp.id} still {comp.state} after {options['timeout']} s.")
        comp.refresh_from_db()
        waited = (f" seconds={time.monotonic() - began:.2f} planned={dispatched - began:.2f}"
                  if options["wait"] else "")
        self.stdout.write(f"computation {comp.id} {comp.state} {comp.status_word} {comp.directory} "
                          f"datasets={comp.total_datasets} chunks={comp.total_chunks} affected={comp.affected_count}"
                          + waited)
