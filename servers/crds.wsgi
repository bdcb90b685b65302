"""mod_wsgi entry point of CRDS ${CRDS_OBSERVATORY} ${CRDS_USECASE}.

Rendered by ./install from servers/crds.wsgi; Apache's WSGIScriptAlias points here.
It runs in the WSGI daemon processes and, for JSON-RPC, in Apache's own worker processes.
"""

import os
import sys

os.environ["CRDS_SITE_ENV"] = "${SITE_ENV}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crds_server.settings")
# Apache's workers inherit the environment of whoever started Apache (root's HOME when ./run
# ran as root); astropy keeps its config under HOME, like the other services' in the server dir.
os.environ["HOME"] = "${SERVER_DIR}"
sys.path.insert(0, "${CHECKOUT}/sources")

from crds_server import wsgi  # noqa: E402

application = wsgi.application
# mod_wsgi re-runs a changed script in Apache's worker processes without restarting them (a
# restore touches it: operations.mirror.reload_workers); the rules they loaded may be stale.
wsgi.forget_loaded_rules()
