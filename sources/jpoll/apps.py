from django.apps import AppConfig


class JpollConfig(AppConfig):
    name = "jpoll"
