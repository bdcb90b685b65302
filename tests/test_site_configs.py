"""configs/ give every observatory × usecase its own ports, names and roots; ./install renders them."""

import itertools
import subprocess

import pytest
from crds_server import siteconfig

SERVERS = list(itertools.product(siteconfig.OBSERVATORIES, siteconfig.USECASES))


@pytest.fixture(scope="module")
def rendered():
    return {(obs, usecase): siteconfig.render(obs, usecase, environ={}) for obs, usecase in SERVERS}


def _distinct(rendered, *keys, servers=None):
    values = [tuple(rendered[server][key] for key in keys) for server in servers or rendered]
    return len(values) == len(set(values))


def test_every_server_has_its_own_ports(rendered):
    ports = [int(site[key]) for site in rendered.values() for key in ("CRDS_PORT", "CRDS_BACKUP_PORT")]
    assert len(ports) == len(set(ports)) == 24
    assert all(8000 <= port <= 8300 for port in ports)
    production = [server for server in SERVERS if server[1] != "django"]
    memcached = [int(rendered[server]["CRDS_MEMCACHED_PORT"]) for server in production]
    assert len(set(memcached)) == len(production) and all(11211 <= port <= 11240 for port in memcached)
    assert not set(memcached) & set(ports)


def test_every_server_has_its_own_names_and_roots(rendered):
    for keys in (("CRDS_DB_NAME",), ("CRDS_CACHE_PREFIX",), ("CRDS_CELERY_QUEUE",), ("CRDS",),
                 ("CRDS_SERVER_FILES",), ("CRDS_FILE_CACHE",), ("CRDS_SECRETS_FILE",), ("CRDS_PUBLIC_URL",)):
        assert _distinct(rendered, *keys), keys
    production = [server for server in SERVERS if server[1] != "django"]
    assert _distinct(rendered, "CRDS_REDIS_URL", servers=production)


@pytest.mark.parametrize("obs", siteconfig.OBSERVATORIES)
def test_django_usecase_is_the_embedded_stack_on_the_observatory_port(rendered, obs):
    site = rendered[(obs, "django")]
    assert site["CRDS_STACK"] == "embedded"
    assert site["CRDS_CACHE_BACKEND"] == "locmem"
    assert site["CRDS_PUBLIC_URL"] == f"http://127.0.0.1:{site['CRDS_PORT']}"
    assert site["CRDS"] == f"{siteconfig.CHECKOUT}/var/{obs}/django"
    for usecase in ("dev", "test", "ops"):
        assert rendered[(obs, usecase)]["CRDS_STACK"] == "production"
    assert rendered[("hst", "django")]["CRDS_PORT"] == "8000"


def test_storage_roots_follow_environment_overrides():
    site = siteconfig.render("jwst", "test", environ={"CRDS": "/srv/crds/jwst-test",
                                                      "CRDS_FILE_CACHE": "/srv/cache/jwst"})
    assert site["CRDS"] == "/srv/crds/jwst-test"
    assert site["CRDS_SERVER_FILES"] == "/srv/crds/jwst-test/server_files"
    assert site["CRDS_FILE_CACHE"] == "/srv/cache/jwst"
    assert site["CRDS_SECRETS_FILE"] == "/srv/crds/jwst-test/secrets/crds_secrets.env"


def _settings_of(tmp_path, obs, usecase, **overrides):
    """Django settings computed in a fresh interpreter from a site.env (as ./install writes it)."""
    site = siteconfig.render(obs, usecase, environ={"CRDS": str(tmp_path / "root")})
    site.update(overrides)
    if "CRDS_PUBLIC_URL" not in overrides:
        scheme = "https" if site["CRDS_HTTPS"] == "true" else "http"
        site["CRDS_PUBLIC_URL"] = f"{scheme}://{site['CRDS_HOST']}:{site['CRDS_PORT']}{site['CRDS_URL_PREFIX']}"
    siteconfig.write_site_env(site, tmp_path / "site.env")
    code = ("import json; from django.conf import settings as s; print(json.dumps({k: getattr(s, k) for k in "
            "('SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'CSRF_TRUSTED_ORIGINS', 'ALLOWED_HOSTS', "
            "'FORCE_SCRIPT_NAME', 'STATIC_URL', 'LOGIN_URL', 'SESSION_COOKIE_PATH', 'CRDS_OBSERVATORY')}))")
    result = subprocess.run([str(siteconfig.CHECKOUT / ".venv/bin/python"), "-c", code], capture_output=True,
                            text=True, check=True, env={"CRDS_SITE_ENV": str(tmp_path / "site.env"),
                                                        "PYTHONPATH": str(siteconfig.CHECKOUT / "sources"),
                                                        "DJANGO_SETTINGS_MODULE": "crds_server.settings"})
    import json

    return json.loads(result.stdout)


def test_plain_http_server_has_no_secure_cookies(tmp_path):
    settings = _settings_of(tmp_path, "hst", "django")
    assert settings["SESSION_COOKIE_SECURE"] is False and settings["CSRF_COOKIE_SECURE"] is False
    assert settings["CSRF_TRUSTED_ORIGINS"] == ["http://127.0.0.1:8000"]
    assert settings["FORCE_SCRIPT_NAME"] is None
    assert settings["STATIC_URL"] == "/static/" and settings["LOGIN_URL"] == "/login/"


def test_https_server_behind_a_prefix(tmp_path):
    settings = _settings_of(tmp_path, "jwst", "ops", CRDS_HTTPS="true", CRDS_URL_PREFIX="/jwst",
                            CRDS_PUBLIC_URL="https://crds.example.edu/jwst")
    assert settings["CRDS_OBSERVATORY"] == "jwst"
    assert settings["SESSION_COOKIE_SECURE"] is True and settings["CSRF_COOKIE_SECURE"] is True
    assert settings["CSRF_TRUSTED_ORIGINS"] == ["https://crds.example.edu"]
    assert "crds.example.edu" in settings["ALLOWED_HOSTS"] and "127.0.0.1" in settings["ALLOWED_HOSTS"]
    assert settings["FORCE_SCRIPT_NAME"] == "/jwst"
    assert settings["STATIC_URL"] == "/jwst/static/"
    assert settings["LOGIN_URL"] == "/jwst/login/"
    assert settings["SESSION_COOKIE_PATH"] == "/jwst/"


@pytest.mark.parametrize("obs", ["jwst", "roman"])
def test_install_other_observatories(checkout_copy, obs):
    """./install jwst|roman django: site.env, env.sh and the Django settings name that observatory."""
    result = checkout_copy.run("./install", obs, "django", check=True)
    assert f"Installed CRDS server {obs} django" in result.stdout
    site = checkout_copy.site()
    expected = siteconfig.render(obs, "django", environ={})
    assert site["CRDS_OBSERVATORY"] == obs
    assert site["CRDS_PORT"] == expected["CRDS_PORT"] != "8000"
    assert site["CRDS"] == str(checkout_copy.root / "var" / obs / "django")
    env_sh = (checkout_copy.root / "env.sh").read_text()
    assert f"export CRDS_PROJECT='{obs}'" in env_sh
    assert f"export CRDS_SERVER_URL='http://127.0.0.1:{expected['CRDS_PORT']}'" in env_sh
    shown = checkout_copy.run("./manage", "shell", "-v", "0", "-c",
                              "from django.conf import settings; import os; "
                              "print(settings.CRDS_OBSERVATORY, settings.CRDS_FILE_CACHE, os.environ['CRDS_PATH'])",
                              check=True).stdout.split()
    cache = str(checkout_copy.root / "var" / obs / "django" / "file_cache")
    assert shown == [obs, cache, cache]
    assert (checkout_copy.root / "var" / obs / "django" / "file_cache" / "mappings" / obs).is_dir()


@pytest.mark.parametrize("obs, instrument", [
    ("hst", "wfc3"),
    ("jwst", "nircam"),
    ("roman", "wfi"),
])
def test_crds_library_serves_each_observatory(obs, instrument):
    """The rules library must load every observatory's locator, or that observatory's server cannot start."""
    result = subprocess.run([str(siteconfig.CHECKOUT / ".venv/bin/python"), "-c",
                             "import sys; from crds.core import utils; "
                             "print(' '.join(utils.get_locator_module(sys.argv[1]).INSTRUMENTS))", obs],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-300:]
    assert instrument in result.stdout.split()
