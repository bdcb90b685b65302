"""A real CRDS server process for tests that drive the real `crds` client.

pytest-django's live_server flushes the test database after each test, which
would destroy the imported catalog; this session-scoped fixture instead runs
`manage.py runserver` in a private server root of its own (site.env,
SQLite database, file cache), migrated and loaded with the HST test cache by
`manage.py init_catalog --from-cache`.  Registered as a pytest plugin by the
top-level conftest.py, so any app's tests may use `crds_live_server` (and
`crds_live_server_jwst`).

With CRDS_LIVE_SERVER_URL set (./runtests --live), the fixtures instead name that
already running, installed server (of CRDS_LIVE_SERVER_OBSERVATORY, hst by default);
its manage.py commands run with CRDS_LIVE_SERVER_SITE_ENV when given.  Tests that
need what only a private server offers (its log, its files) skip there.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 120
# Real reference files from the crds test data that hst_0729.pmap selects, with the sha1sums the
# catalog expects: served in addition to the five references the shared cache holds.
EXTRA_REFERENCES = ("s7g1700gl_dead.fits", "j4d1435jj_bpx.fits", "xaf1429el_wcp.fits")


@dataclass
class LiveServer:
    """A running server: its base URL, server root and the environment its commands need."""

    url: str
    root: Path | None
    observatory: str = "hst"
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    external: bool = False

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run a manage.py command against this server's database and files."""
        if self.external and "CRDS_SITE_ENV" not in self.env:
            pytest.skip(f"manage.py {args[0]} on {self.url} needs CRDS_LIVE_SERVER_SITE_ENV")
        return subprocess.run([sys.executable, str(CHECKOUT / "manage.py"), *args], env=self.env,
                              capture_output=True, text=True, check=check, timeout=600)

    def client_env(self, crds_path: Path, **extra: str) -> dict[str, str]:
        """Environment for a `crds` client process pointed at this server with its own cache."""
        env = {key: value for key, value in os.environ.items()
               if not key.startswith("CRDS_") and key != "DJANGO_SETTINGS_MODULE"}
        env.update(CRDS_SERVER_URL=self.url, CRDS_OBSERVATORY=self.observatory, CRDS_PATH=str(crds_path), **extra)
        return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/json/", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def composite_cache(root: Path, cache_dir: Path, extra: list[Path], observatory: str = "hst") -> Path:
    """`cache_dir` (linked, never changed) with the `extra` reference files added to it."""
    cache = root / "import-cache"
    for part in ("config", "mappings"):
        (cache / part).mkdir(parents=True)
        (cache / part / observatory).symlink_to(cache_dir / part / observatory)
    references = cache / "references" / observatory
    references.mkdir(parents=True)
    held = cache_dir / "references" / observatory
    for path in [*(sorted(held.iterdir()) if held.is_dir() else []), *extra]:
        (references / path.name).symlink_to(path)
    return cache


def start(cache_dir: Path, extra_references: list[Path] = (), observatory: str = "hst", **site: str) -> LiveServer:
    """Create a server root, load `cache_dir` (plus extra references) into it and start runserver.

    `site` overrides values of the rendered site.env (CRDS_EMAIL_PORT=..., say)."""
    from crds_server import siteconfig

    root = Path(tempfile.mkdtemp(prefix="crds-live-"))
    if extra_references:
        cache_dir = composite_cache(root, cache_dir, list(extra_references), observatory)
    siteconfig.write_site_env({**siteconfig.render(observatory, "django", {"CRDS": str(root)}), **site},
                              root / "site.env")
    env = {key: value for key, value in os.environ.items() if not key.startswith("CRDS_")}
    env.update(CRDS_SITE_ENV=str(root / "site.env"), DJANGO_SETTINGS_MODULE="crds_server.settings")
    server = LiveServer(url="", root=root, observatory=observatory, env=env)
    (root / "server").mkdir()  # where the SQLite database lives; init_catalog creates the rest
    server.manage("migrate", "--noinput")
    server.manage("init_catalog", "--from-cache", str(cache_dir))
    port = free_port()
    server.url = f"http://127.0.0.1:{port}"
    log = open(root / "runserver.log", "w")
    server.process = subprocess.Popen(
        [sys.executable, str(CHECKOUT / "manage.py"), "runserver", "--noreload", f"127.0.0.1:{port}"],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + STARTUP_SECONDS
    while not _answers(server.url):
        if server.process.poll() is not None or time.monotonic() > deadline:
            stop(server)
            raise RuntimeError(f"the test server did not start; see {root / 'runserver.log'}")
        time.sleep(0.3)
    return server


def terminate(process: subprocess.Popen | None, timeout: float) -> None:
    """Stop a child process: SIGTERM, then SIGKILL if it is still there after `timeout` seconds."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def stop(server: LiveServer, remove: bool = True) -> None:
    terminate(server.process, 20)
    if remove:
        shutil.rmtree(server.root, ignore_errors=True)


@contextlib.contextmanager
def private(setup: str = "") -> Iterator[LiveServer]:
    """A server of a test module's own, loaded with the test cache, `setup` run in its shell first.

    For tests that change what the shared crds_live_server relies on (contexts, spent names).
    """
    from crds_server import testing

    server = start(testing.test_cache())
    try:
        if setup:
            server.manage("shell", "-c", setup)
        yield server
    finally:
        stop(server)


def external() -> LiveServer | None:
    """The installed server named by CRDS_LIVE_SERVER_URL (./runtests --live), or None."""
    url = os.environ.get("CRDS_LIVE_SERVER_URL", "").rstrip("/")
    if not url:
        return None
    env = {key: value for key, value in os.environ.items() if not key.startswith("CRDS_")}
    site_env = os.environ.get("CRDS_LIVE_SERVER_SITE_ENV")
    if site_env:
        env.update(CRDS_SITE_ENV=site_env, DJANGO_SETTINGS_MODULE="crds_server.settings")
    return LiveServer(url=url, root=None, observatory=os.environ.get("CRDS_LIVE_SERVER_OBSERVATORY", "hst"),
                      env=env, external=True)


def _external_or_skip(observatory: str) -> LiveServer | None:
    server = external()
    if server is not None and server.observatory != observatory:
        pytest.skip(f"the server under test ({server.url}) is not a {observatory} server")
    return server


@pytest.fixture(scope="session")
def crds_live_server():
    """A running HST server loaded with the shared test cache, for the whole test session."""
    from crds_server import testing

    installed = _external_or_skip("hst")
    if installed is not None:
        yield installed
        return
    extra = [testing.test_data() / "hst" / name for name in EXTRA_REFERENCES]
    server = start(testing.test_cache(), extra)
    try:
        yield server
    finally:
        stop(server)


@pytest.fixture(scope="session")
def crds_live_server_jwst():
    """A running JWST server loaded with the shared test cache's JWST rules (no references held)."""
    from crds_server import testing

    installed = _external_or_skip("jwst")
    if installed is not None:
        yield installed
        return
    server = start(testing.test_cache(), observatory="jwst")
    try:
        yield server
    finally:
        stop(server)
