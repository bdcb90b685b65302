"""Test-wide set-up: every test run gets its own server roots under a temporary directory."""

import os
import sys
import tempfile
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent
sys.path.insert(0, str(CHECKOUT / "sources"))

# Point the site configuration at a private temporary root before settings load,
# so tests never touch an installed server's files.
if not os.environ.get("CRDS_SITE_ENV"):
    _root = Path(tempfile.mkdtemp(prefix="crds-test-"))
    from crds_server import siteconfig

    _site = siteconfig.render(os.environ.get("CRDS_TEST_OBS", "hst"), os.environ.get("CRDS_TEST_USECASE", "django"),
                              {"CRDS": str(_root)})
    siteconfig.write_site_env(_site, _root / "site.env")
    os.environ["CRDS_SITE_ENV"] = str(_root / "site.env")


import pytest  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def server_dirs():
    """Create the test server's directories once."""
    from interactive import storage

    storage.make_dirs()
