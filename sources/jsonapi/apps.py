from django.apps import AppConfig


class JsonapiConfig(AppConfig):
    name = "jsonapi"
