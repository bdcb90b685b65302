from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class JsonapiConfig(AppConfig):
    name = "jsonapi"

    def ready(self):
        # Every app publishes its JSON-RPC methods in <app>/rpc.py.
        autodiscover_modules("rpc")
        from interactive import cache

        cache.connect_signals()
