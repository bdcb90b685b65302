"""Settings of the test suite: the normal settings over a private temporary server root.

pytest-django imports the settings before any conftest.py is loaded, so the
private site.env must be made here: a conftest.py would be too late, and the
tests would run against the installed server's roots (the checkout's site.env).
The root is removed when the test run ends (keep it with CRDS_TEST_KEEP_ROOT=1).
"""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

from crds_server import siteconfig

if not os.environ.get("CRDS_SITE_ENV"):
    TEST_ROOT = Path(tempfile.mkdtemp(prefix="crds-test-"))
    _site = siteconfig.render(os.environ.get("CRDS_TEST_OBS", "hst"), os.environ.get("CRDS_TEST_USECASE", "django"),
                              {"CRDS": str(TEST_ROOT)})
    siteconfig.write_site_env(_site, TEST_ROOT / "site.env")
    os.environ["CRDS_SITE_ENV"] = str(TEST_ROOT / "site.env")
    if not os.environ.get("CRDS_TEST_KEEP_ROOT"):
        _creator = os.getpid()
        # Only the process that made the root removes it, not children that inherit the handler.
        atexit.register(lambda: os.getpid() == _creator and shutil.rmtree(TEST_ROOT, ignore_errors=True))

from crds_server.settings import *  # noqa: E402,F403
