"""Helpers for the operator-script tests: a private copy of the checkout, free ports, HTTP.

Script tests never run ./install or ./run in the developer's checkout: they copy
the project files into a temporary directory (reusing the .venv), give the copy
its own ports, database names and queues in its configs/, and run the scripts
there.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parents[1]
IS_ROOT = os.geteuid() == 0


# The Celery broker of the production-stack copies (each has its own queue); Redis runs on the machine.
REDIS_URL = "redis://127.0.0.1:6379/15"


def free_port() -> int:
    """A TCP port nothing listens on now (outside the ranges reserved for configured servers)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if not (8000 <= port <= 8300 or 11211 <= port <= 11240):
            return port


def http_get(url: str, timeout: float = 30) -> tuple[int, dict[str, str], str]:
    """GET `url` without following redirects: (status, headers, body text)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode("utf-8", "replace")


def script_env() -> dict[str, str]:
    """A plain operator environment: nothing of the test run's own site configuration."""
    keep = ("PATH", "HOME", "LANG", "TERM", "TMPDIR")
    env = {key: os.environ[key] for key in keep if key in os.environ}
    env.setdefault("LANG", "C.UTF-8")
    return env


def _venv_usable_by_others() -> bool:
    """Can an unprivileged user run the checkout's venv where it is (all parents o+x)?"""
    if not IS_ROOT:
        return True
    result = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                             str(CHECKOUT / ".venv" / "bin" / "python"), "-c", "import django"],
                            cwd="/", capture_output=True)
    return result.returncode == 0


@dataclass
class CheckoutCopy:
    """A copy of the project files in a temporary directory, where the scripts may be run freely."""

    root: Path
    tag: str

    def run(self, *command: str, timeout: float = 300, check: bool = False,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        result = subprocess.run(list(command), cwd=self.root, env={**script_env(), **(env or {})},
                                capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if check and result.returncode:
            raise AssertionError(f"{' '.join(command)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
        return result

    def write_config(self, obs: str, usecase: str, **values: str) -> None:
        """Replace configs/<obs>-<usecase>.conf of the copy."""
        lines = [f"# test copy: {obs} {usecase}"] + [f"{key}={value}" for key, value in values.items()]
        (self.root / "configs" / f"{obs}-{usecase}.conf").write_text("\n".join(lines) + "\n")

    def write_production_config(self, obs: str, usecase: str, **values: str) -> None:
        """The production stack's config on free ports, with its own memcached, Celery queue and cache keys.

        Sets self.port, self.backup_port, self.memcached_port and self.queue; `values` add or override keys.
        """
        self.port, self.backup_port, self.memcached_port = free_port(), free_port(), free_port()
        self.queue = f"{self.db_prefix}_{obs}_{usecase}"
        self.write_config(obs, usecase, **{
            "CRDS_PORT": str(self.port), "CRDS_BACKUP_PORT": str(self.backup_port),
            "CRDS_MEMCACHED_PORT": str(self.memcached_port), "CRDS_REDIS_URL": REDIS_URL,
            "CRDS_CELERY_QUEUE": self.queue, "CRDS_CACHE_PREFIX": self.queue, **values})

    def site(self) -> dict[str, str]:
        from crds_server import siteconfig

        return siteconfig.read_env_file(self.root / "site.env")

    @property
    def db_prefix(self) -> str:
        return f"crdst{self.tag}"


def make_copy() -> CheckoutCopy:
    """Copy the project files (tracked and new, not ignored) and reuse the venv."""
    root = Path(tempfile.mkdtemp(prefix="crds-scripts-"))
    root.chmod(0o755)  # the service user must reach it
    listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             cwd=CHECKOUT, capture_output=True, check=True).stdout.decode()
    for name in filter(None, listing.split("\0")):
        source = CHECKOUT / name
        if not source.is_file():
            continue
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    if _venv_usable_by_others():
        (root / ".venv").symlink_to(CHECKOUT / ".venv")
    else:
        # The checkout is private (e.g. under /root): hard-link the venv into the readable copy.
        linked = subprocess.run(["cp", "-al", str(CHECKOUT / ".venv"), str(root / ".venv")], capture_output=True)
        if linked.returncode:
            shutil.rmtree(root / ".venv", ignore_errors=True)
            subprocess.run(["cp", "-a", str(CHECKOUT / ".venv"), str(root / ".venv")], check=True)
    tag = uuid.uuid4().hex[:8]
    # Database names of the copy cannot meet an installed server's.
    (root / "configs" / "database.conf").write_text(
        f"CRDS_DB_NAME=crdst{tag}_${{OBS}}_${{USECASE}}\n"
        f"CRDS_DB_USER=crdst{tag}_${{OBS}}_${{USECASE}}\n"
        "CRDS_DB_HOST=127.0.0.1\nCRDS_DB_PORT=3306\n")
    return CheckoutCopy(root, tag)


def drop_databases(copy: CheckoutCopy) -> None:
    """Remove the MariaDB databases and accounts a copy's ./install created."""
    listing = subprocess.run(["mariadb", "-uroot", "-N", "-e",
                              f"SELECT User, Host FROM mysql.user WHERE User LIKE '{copy.db_prefix}%';"
                              f"SHOW DATABASES LIKE '%{copy.db_prefix}%';"],
                             capture_output=True, text=True)
    statements = []
    for line in listing.stdout.splitlines():
        fields = line.split("\t")
        if len(fields) == 2:
            statements.append(f"DROP USER IF EXISTS '{fields[0]}'@'{fields[1]}';")
        elif fields[0]:
            statements.append(f"DROP DATABASE IF EXISTS `{fields[0]}`;")
    if statements:
        subprocess.run(["mariadb", "-uroot"], input="\n".join(statements), text=True, capture_output=True)


def remove_copy(copy: CheckoutCopy) -> None:
    if (copy.root / "site.env").exists():
        copy.run("./stop", timeout=120)
    if shutil.which("mariadb"):
        drop_databases(copy)
    shutil.rmtree(copy.root, ignore_errors=True)


@pytest.fixture(scope="module")
def smtp():
    """A real SMTP sink for the module's servers: (its collector, the port)."""
    from tests.ops_support import smtp_sink

    with smtp_sink() as sink:
        yield sink


@pytest.fixture(scope="module")
def checkout_copy():
    copy = make_copy()
    try:
        yield copy
    finally:
        remove_copy(copy)


def service_user_exists(name: str = "crds") -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False
