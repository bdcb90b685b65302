"""mod_wsgi entry point of CRDS ${CRDS_OBSERVATORY} ${CRDS_USECASE}.

Rendered by ./install from servers/crds.wsgi; Apache's WSGIScriptAlias points here.
"""

import os
import sys

os.environ["CRDS_SITE_ENV"] = "${SITE_ENV}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crds_server.settings")
sys.path.insert(0, "${CHECKOUT}/sources")

from crds_server.wsgi import application  # noqa: E402,F401
