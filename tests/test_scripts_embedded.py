"""./install, ./run, ./stop, ./rerun and ./manage on the embedded stack (SQLite, Django's own server)."""

import os
import re
import stat
import subprocess

import pytest

from conftest import free_port, http_get


@pytest.fixture(scope="module")
def embedded(checkout_copy):
    """The copy installed as hst django on free ports."""
    port = free_port()
    checkout_copy.write_config("hst", "django", CRDS_STACK="embedded", CRDS_PORT=str(port),
                               CRDS_BACKUP_PORT=str(free_port()), CRDS_CACHE_BACKEND="locmem")
    checkout_copy.run("./install", "hst", "django", check=True)
    checkout_copy.port = port
    yield checkout_copy
    checkout_copy.run("./stop")


def _pid(copy) -> int:
    return int((copy.root / "var/hst/django/server/run/runserver.pid").read_text())


def test_install_writes_the_site_configuration(embedded):
    site = embedded.site()
    root = str(embedded.root / "var" / "hst" / "django")
    assert site["CRDS_OBSERVATORY"] == "hst"
    assert site["CRDS_USECASE"] == "django"
    assert site["CRDS_STACK"] == "embedded"
    assert site["CRDS_PORT"] == str(embedded.port)
    assert site["CRDS"] == root
    assert site["CRDS_SERVER_FILES"] == root + "/server_files"
    assert site["CRDS_FILE_CACHE"] == root + "/file_cache"
    assert site["CRDS_PUBLIC_URL"] == f"http://127.0.0.1:{embedded.port}"
    for directory in ("server/conf", "server/logs", "server/run", "server/wsgi-scripts", "server/db_backups",
                      "server_files/catalogs", "server_files/deliveries", "server_files/uploads",
                      "server_files/ingest", "server_files/ingest_ssb", "file_cache/mappings/hst",
                      "file_cache/references/hst", "file_cache/config/hst"):
        assert (embedded.root / "var/hst/django" / directory).is_dir(), directory
    assert (embedded.root / "var/hst/django/server/static/admin/css/base.css").is_file()


def test_env_sh_sets_the_operator_environment(embedded):
    printed = subprocess.run(
        ["bash", "-c", ". ./env.sh && echo $CRDS_PROJECT $CRDS_USECASE $CRDS $CRDS_SERVER_FILES $CRDS_FILE_CACHE "
         "$CRDS_SERVER_URL $CRDS_PATH && command -v python"],
        cwd=embedded.root, capture_output=True, text=True, check=True).stdout.split()
    root = str(embedded.root / "var/hst/django")
    assert printed == ["hst", "django", root, root + "/server_files", root + "/file_cache",
                       f"http://127.0.0.1:{embedded.port}", root + "/file_cache",
                       str(embedded.root / ".venv/bin/python")]


def test_install_writes_a_crontab_for_this_checkout(embedded):
    crontab = (embedded.root / "var/hst/django/server/conf/crontab").read_text().splitlines()
    assert f"CRDS_CHECKOUT={embedded.root}" in crontab
    assert "CRDS_SCHEDULER=cron" in crontab
    # hst-django configures no operators: no MAILTO, so cron mails the crontab's owner (never MAILTO="").
    assert not [line for line in crontab if line.startswith("MAILTO")]
    jobs = [line.split('"$CRDS_CHECKOUT/')[1].rstrip('"') for line in crontab if '"$CRDS_CHECKOUT/' in line]
    assert {"host/clear_expired_locks", "host/update_delivery_status", "host/monitor_reprocessing",
            "host/nightly.cron.job"} <= set(jobs)
    assert all((embedded.root / job).is_file() for job in jobs)


def test_env_csh_is_the_twin_of_env_sh(embedded):
    sh = (embedded.root / "env.sh").read_text().splitlines()[1:]
    csh = (embedded.root / "env.csh").read_text().splitlines()[1:]
    assert len(sh) == len(csh) > 10
    for sh_line, csh_line in zip(sh, csh, strict=True):
        key, value = sh_line.removeprefix("export ").split("=", 1)
        assert csh_line == f"setenv {key} {value}" if key != "PATH" else csh_line.startswith('setenv PATH "')
    assert f"setenv CRDS '{embedded.root}/var/hst/django'" in csh


def test_secrets_are_private_and_stable_across_installs(embedded):
    path = embedded.root / "var/hst/django/secrets/crds_secrets.env"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    before = path.read_text()
    assert "CRDS_SECRET_KEY='" in before and "CRDS_DB_PASSWORD='" in before
    again = embedded.run("./install", "hst", "django", check=True)
    assert "Installed CRDS server hst django" in again.stdout
    assert path.read_text() == before
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_secrets_and_generated_files_are_ignored_by_git(embedded):
    """The developer's checkout: everything ./install writes is ignored, so it cannot be committed."""
    from conftest import CHECKOUT

    names = ["site.env", "env.sh", "env.csh", "install.hst.django.err", "var/hst/django/secrets/crds_secrets.env"]
    result = subprocess.run(["git", "check-ignore", *names], cwd=CHECKOUT, capture_output=True, text=True)
    assert result.stdout.split() == names


def test_run_serves_the_home_page_and_stop_stops_it(embedded):
    started = embedded.run("./run", check=True)
    assert f"CRDS hst django is running at http://127.0.0.1:{embedded.port}/" in started.stdout
    try:
        pid = _pid(embedded)
        status, headers, body = http_get(f"http://127.0.0.1:{embedded.port}/")
        assert status == 200
        assert '<td id="observatory">hst</td>' in body
        assert headers["Server"].startswith("WSGIServer")
        status, _, css = http_get(f"http://127.0.0.1:{embedded.port}/static/admin/css/base.css")
        assert status == 200 and "body" in css
        assert http_get(f"http://127.0.0.1:{embedded.port}//")[0] == 200

        again = embedded.run("./run")
        assert again.returncode == 0
        assert "CRDS hst django is already running" in again.stdout
        assert _pid(embedded) == pid
    finally:
        stopped = embedded.run("./stop", check=True)
    assert f"Stopped runserver (PID {pid})" in stopped.stdout
    assert not (embedded.root / "var/hst/django/server/run/runserver.pid").exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_stop_with_nothing_running_says_so(embedded):
    result = embedded.run("./stop")
    assert result.returncode == 0
    assert "CRDS hst django is not running." in result.stdout


def test_run_ignores_a_stale_pid_file(embedded):
    pid_file = embedded.root / "var/hst/django/server/run/runserver.pid"
    pid_file.write_text(str(os.getpid()))  # alive, but not a runserver
    try:
        assert "started: runserver" in embedded.run("./run", check=True).stdout
        assert _pid(embedded) != os.getpid()
    finally:
        embedded.run("./stop", check=True)


def test_install_refuses_another_server_while_one_runs(embedded):
    embedded.run("./run", check=True)
    try:
        result = embedded.run("./install", "jwst", "django")
        assert result.returncode == 1
        assert "CRDS hst django is running from this checkout: ./stop it before installing jwst django" in result.stderr
        assert embedded.site()["CRDS_OBSERVATORY"] == "hst"
    finally:
        embedded.run("./stop", check=True)


def test_manage_runs_django_commands_in_the_installed_environment(embedded):
    result = embedded.run("./manage", "shell", "-v", "0", "-c",
                          "from django.conf import settings; print(settings.CRDS_OBSERVATORY, settings.DATABASES"
                          "['default']['NAME'])", check=True)
    assert result.stdout.split() == ["hst", str(embedded.root / "var/hst/django/server/crds.sqlite3")]
    bad = embedded.run("./manage", "no_such_command")
    assert bad.returncode == 1
    assert "Unknown command: 'no_such_command'" in bad.stderr


def test_rerun_reinstalls_with_new_configuration_under_a_url_prefix(embedded):
    """./rerun = stop, install (log in install.hst.django.err), run; the prefix is honoured by Django's server."""
    embedded.run("./run", check=True)
    old_pid = _pid(embedded)
    embedded.write_config("hst", "django", CRDS_STACK="embedded", CRDS_PORT=str(embedded.port),
                          CRDS_BACKUP_PORT=str(free_port()), CRDS_CACHE_BACKEND="locmem", CRDS_URL_PREFIX="/hst")
    try:
        result = embedded.run("./rerun", check=True)
        assert f"Stopped runserver (PID {old_pid})" in result.stdout
        assert "Installed CRDS server hst django" in (embedded.root / "install.hst.django.err").read_text()
        assert f"running at http://127.0.0.1:{embedded.port}/hst/" in result.stdout
        base = f"http://127.0.0.1:{embedded.port}"
        status, _, body = http_get(base + "/hst/")
        assert status == 200
        links = re.findall(r'(?:href|src)="(/[^"]*)"', body)
        assert links and all(link.startswith("/hst/") for link in links), links
        assert http_get(base + "//hst//")[0] == 200
        status, headers, _ = http_get(base + "/")
        assert status == 302 and headers["Location"] == "/hst/"
        assert http_get(base + "/static/admin/css/base.css")[0] == 404
        assert http_get(base + "/hst/static/admin/css/base.css")[0] == 200
    finally:
        embedded.run("./stop", check=True)


def test_run_fails_with_the_log_when_the_port_is_taken(embedded):
    import socket

    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", embedded.port))
        taken.listen()
        result = embedded.run("./run", timeout=120)
    try:
        assert result.returncode == 1
        assert "exited before" in result.stderr or "runserver did not start" in result.stderr
        assert "--- last lines of" in result.stderr and "runserver.log" in result.stderr
        assert "That port is already in use" in result.stderr
    finally:
        embedded.run("./stop", check=True)


def test_rerun_reports_a_failed_install(embedded):
    config = embedded.root / "configs/hst-django.conf"
    good = config.read_text()
    config.write_text(good + "this is not a setting\n")
    try:
        result = embedded.run("./rerun")
        assert result.returncode == 1
        assert "rerun: ./install hst django failed: see install.hst.django.err" in result.stderr
        assert "expected KEY=value, got 'this is not a setting'" in result.stderr
        assert "Traceback" not in (embedded.root / "install.hst.django.err").read_text()
        assert not (embedded.root / "var/hst/django/server/run/runserver.pid").exists()
        assert embedded.site()["CRDS_OBSERVATORY"] == "hst"  # the installed configuration is intact
    finally:
        config.write_text(good)
