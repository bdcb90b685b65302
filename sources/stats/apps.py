from django.apps import AppConfig
from django.core.signals import request_finished


class StatsConfig(AppConfig):
    name = "stats"

    def ready(self):
        from stats import recorder

        # After the response has gone out, write the buffered rows if a batch is due.
        request_finished.connect(recorder.flush_if_due, dispatch_uid="stats.flush_if_due")
