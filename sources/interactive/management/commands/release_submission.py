from django.core.management.base import BaseCommand, CommandError

from interactive import confirm


class Command(BaseCommand):
    help = ("Return a READY submission left 'finalizing' by a confirm whose process died to 'awaiting a "
            "decision', so that it can be confirmed or cancelled again. Refused while the context lock is "
            "held (a confirm may still be running) or once any of its files was delivered.")

    def add_arguments(self, parser):
        parser.add_argument("result", help="the submission's result id (the UUID of its READY page)")
        parser.add_argument("--ignore-context-lock", action="store_true",
                            help="release even though the context lock is held (only when no confirm runs)")

    def handle(self, *args, **options):
        try:
            self.stdout.write(confirm.release_stuck(options["result"], options["ignore_context_lock"]))
        except confirm.ConfirmError as exc:
            raise CommandError(str(exc)) from None
