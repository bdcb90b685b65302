"""./init [--from-cache DIR] [--force] in a private copy of the checkout (issue 2)."""

from __future__ import annotations

import sqlite3
import stat
import sys
from pathlib import Path

import pytest

from conftest import CHECKOUT

sys.path.insert(0, str(CHECKOUT / "sources"))
from crds_server import siteconfig, testing  # noqa: E402

CACHE = testing.test_cache()
DAMAGED = "hst_acs_darkfile_missing_key.rmap"


@pytest.fixture(scope="module")
def server(checkout_copy):
    """The copy configured as hst django with its own roots and a migrated, empty database."""
    site = siteconfig.render("hst", "django", {"CRDS": str(checkout_copy.root / "var/hst/django")})
    siteconfig.write_site_env(site, checkout_copy.root / "site.env")
    (checkout_copy.root / "var/hst/django/server").mkdir(parents=True)
    checkout_copy.run(".venv/bin/python", "manage.py", "migrate", "--skip-checks", "-v0", check=True,
                      env={"CRDS_SITE_ENV": str(checkout_copy.root / "site.env")})
    checkout_copy.cache = Path(site["CRDS_FILE_CACHE"])
    checkout_copy.db = Path(site["CRDS"]) / "server" / "crds.sqlite3"
    return checkout_copy


def count(server, table: str) -> int:
    with sqlite3.connect(server.db) as db:
        return db.execute(f"SELECT COUNT(*) FROM interactive_{table}").fetchone()[0]


@pytest.mark.parametrize("args", [
    ["--bogus"], ["--from-cache"], ["--from-cache", ""], ["--from-cache="], ["--force", "--force"],
    ["--from-cache", "a", "--from-cache", "b"], ["extra"],
])
def test_bad_arguments_print_usage_and_exit_2(checkout_copy, args):
    result = checkout_copy.run("./init", *args)
    assert result.returncode == 2
    assert "usage: ./init [--from-cache DIR] [--force]" in result.stderr
    assert not (checkout_copy.root / "var").exists() or not any((checkout_copy.root / "var").rglob("*.pmap"))


def test_help(checkout_copy):
    result = checkout_copy.run("./init", "--help")
    assert result.returncode == 0
    assert "usage: ./init" in result.stdout


def test_not_installed_says_what_to_do(checkout_copy):
    if (checkout_copy.root / "site.env").exists():
        pytest.skip("the copy is already configured")
    result = checkout_copy.run("./init")
    assert result.returncode == 1
    assert "run ./install OBS USECASE first" in result.stderr


def test_bootstrap_refusal_and_import(server):
    first = server.run("./init")
    assert first.returncode == 0, first.stderr
    assert "Cataloged" in first.stdout
    bootstrap_files = count(server, "filerecord")
    assert (server.cache / "mappings/hst/hst_0000.pmap").stat().st_mode & 0o777 == 0o444

    again = server.run("./init")
    assert again.returncode == 1
    assert "Use --force" in again.stderr and "Traceback" not in again.stderr
    assert count(server, "filerecord") == bootstrap_files

    for bad in (["--from-cache", "/nonexistent/crds-cache"], ["--force", "--from-cache", "/nonexistent/x"]):
        result = server.run("./init", *bad)
        assert result.returncode == 1
        assert "No such directory: /nonexistent/" in result.stderr and "Traceback" not in result.stderr
    assert count(server, "filerecord") == bootstrap_files

    not_a_cache = server.run("./init", "--force", "--from-cache", str(CHECKOUT / "docs"))
    assert not_a_cache.returncode == 1 and "is not a CRDS cache" in not_a_cache.stderr

    # A relative DIR is taken from where ./init is run, not from the checkout.
    imported = server.run("bash", "-c", f"cd {CACHE.parent} && {server.root}/init --force --from-cache {CACHE.name}")
    assert imported.returncode == 0, imported.stderr
    assert DAMAGED in imported.stderr
    assert count(server, "filerecord") > 43000
    assert count(server, "contexthistory") == 398
    pmap = server.cache / "mappings/hst/hst_0729.pmap"
    assert stat.S_IMODE(pmap.stat().st_mode) == 0o444
    assert not (server.cache / "mappings/hst/hst_0000.pmap").exists()  # the wiped bootstrap's files
