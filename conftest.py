"""Test-wide set-up: every test run gets its own server roots under a temporary directory."""

import sys
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent
sys.path.insert(0, str(CHECKOUT / "sources"))

# The private temporary server root of a test run is made by crds_server.test_settings
# (pytest.ini's DJANGO_SETTINGS_MODULE): pytest-django loads settings before this file.


import pytest  # noqa: E402

# crds_live_server: a real server process with the HST test cache, for tests driving the crds client.
pytest_plugins = ["jsonapi.live_server", "crds_server.browser"]


def _file_states(root: Path) -> dict[str, tuple[int, int]]:
    states = {}
    for path in root.rglob("*"):
        if path.is_file():
            stat = path.stat()
            states[str(path.relative_to(root))] = (stat.st_size, stat.st_mtime_ns)
    return states


@pytest.fixture(scope="session", autouse=True)
def shared_data_unchanged():
    """Fail the run if a test wrote into ../shared/data: tests run as root, which its read-only modes do not stop."""
    from crds_server.testing import shared_data

    root = shared_data()
    before = _file_states(root)
    yield
    after = _file_states(root)
    changed = sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
    assert not changed, f"Tests changed the shared test data in {root} (copy what a test changes): {changed[:10]}"


@pytest.fixture(scope="session", autouse=True)
def server_dirs():
    """Create the test server's directories once."""
    from interactive import storage

    storage.make_dirs()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """After pytest-django's test database setup, import the HST test cache once (crds_server.testing).

    Transactional tests flush the database afterwards: they call import_test_cache() themselves.
    """
    from crds_server.testing import import_test_cache
    from django.conf import settings

    if settings.CRDS_OBSERVATORY == "hst":
        with django_db_blocker.unblock():
            import_test_cache()
