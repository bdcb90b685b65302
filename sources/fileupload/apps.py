import logging

from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in

log = logging.getLogger(__name__)


def make_ingest_area(sender, user, **kwargs) -> None:
    """At login the user's ingest directory is made (§5.1), so files can be copied in by shell at once."""
    from interactive.storage import BadName

    from fileupload import ingest

    try:
        ingest.user_dir(user.get_username())
    except (BadName, OSError) as exc:  # the login itself stands; uploads will report the problem
        log.warning("Cannot make the ingest area of %r: %s", user.get_username(), exc)


class FileuploadConfig(AppConfig):
    name = "fileupload"

    def ready(self) -> None:
        user_logged_in.connect(make_ingest_area, dispatch_uid="fileupload.make_ingest_area")
