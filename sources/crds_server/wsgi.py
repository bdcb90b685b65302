"""WSGI entry point for Apache/mod_wsgi (servers/crds.wsgi loads this) and Django's own server."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crds_server.settings")

from django.conf import settings  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402

from crds_server.middleware import PrefixMount  # noqa: E402

# Apache and Django's server (WSGI_APPLICATION) both load this.
application = PrefixMount(get_wsgi_application(), settings.CRDS_URL_PREFIX)


def forget_loaded_rules() -> None:
    """Drop the mappings and catalog memos this process holds, as a restarted worker would."""
    from crds.core import utils as crds_utils
    from interactive import cache
    from reprocessing import compute

    crds_utils.clear_function_caches()
    compute.forget_loaded_contexts()
    cache.forget_in_process()
