from django.apps import AppConfig


class ReprocessingConfig(AppConfig):
    name = "reprocessing"
    verbose_name = "Affected datasets (reprocessing)"
