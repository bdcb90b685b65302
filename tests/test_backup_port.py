"""./run --backup-port, ./run, ./stop and ./runtests --live on both stacks (issue 6, backup port).

The server moves to its hidden CRDS_BACKUP_PORT while a small responder answers
503 "temporarily unavailable" on the normal port; ./runtests --live self-tests
the installed server there with the real `crds` client and puts it back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from conftest import free_port, http_get, make_copy, remove_copy, script_env

# Loaded into the live-test copy's sources/ and enabled with -p: before the selected test runs
# (on the backup port), it records what both ports answer, then fails it or interrupts the run.
PROBE = '''
import json, os, signal, urllib.error, urllib.request


def _status(url):
    try:
        return urllib.request.urlopen(url, timeout=10).status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def pytest_runtest_call(item):
    normal, backup = os.environ["PROBE_NORMAL_URL"], os.environ["CRDS_LIVE_SERVER_URL"]
    with open(os.environ["PROBE_RECORD"], "w") as record:
        json.dump({"normal": _status(normal + "/"), "backup": _status(backup + "/")}, record)
    if os.environ["PROBE_ACTION"] == "interrupt":
        os.killpg(os.getpgid(0), signal.SIGTERM)
    raise AssertionError("deliberate failure of the backup-port probe")
'''


def rpc(url: str, method: str, *params) -> tuple[int, dict, dict]:
    """POST a JSON-RPC call: (HTTP status, headers, decoded answer)."""
    body = json.dumps({"jsonrpc": "1.0", "method": method, "params": list(params), "id": "41"}).encode()
    try:
        with urllib.request.urlopen(url + "/json/", body, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read())


def refused(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=10)
    except urllib.error.HTTPError:
        return False
    except OSError:
        return True
    return False


def client_message(url: str) -> str:
    """What the real `crds` client reports when it calls `url`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CRDS_")}
    env.update(CRDS_SERVER_URL=url, CRDS_OBSERVATORY="hst")
    code = ("from crds.client import api\ntry:\n    print(api.get_default_context('hst'))\n"
            "except Exception as exc:\n    print('ERROR', exc)")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    return result.stdout.strip()


def pid_files(copy) -> set[str]:
    return {path.name for path in copy.run_dir.glob("*.pid")}


def assert_unavailable(base: str, name: str, prefix: str = "") -> None:
    status, headers, page = http_get(f"{base}{prefix}/")
    assert status == 503
    assert headers["Retry-After"] == "300"
    assert f"{name} is temporarily unavailable for maintenance" in page
    assert "Traceback" not in page
    status, headers, answer = rpc(base + prefix, "get_default_context", "hst")
    assert status == 503 and headers["Retry-After"] == "300"
    assert answer["id"] == "41" and answer["result"] is None
    assert answer["error"]["message"] == f"{name} is temporarily unavailable for maintenance; retry in 300 s"
    message = client_message(base + prefix)
    assert message.startswith("ERROR CRDS jsonrpc failure 'get_default_context' HTTP Error 503")
    assert f"{name} is temporarily unavailable for maintenance" in message


# ---------------------------------------------------------------- embedded stack


@pytest.fixture(scope="module")
def embedded():
    """A copy installed as hst django (SQLite, Django's server) and loaded with the HST test cache."""
    from crds_server import testing
    from jsonapi import live_server

    copy = make_copy()
    try:
        copy.port, copy.backup_port = free_port(), free_port()
        copy.write_config("hst", "django", CRDS_STACK="embedded", CRDS_PORT=str(copy.port),
                          CRDS_BACKUP_PORT=str(copy.backup_port), CRDS_CACHE_BACKEND="locmem")
        copy.run("./install", "hst", "django", check=True)
        cache = live_server.composite_cache(copy.root / "var", testing.test_cache(),
                                            [testing.test_data() / "hst" / name
                                             for name in live_server.EXTRA_REFERENCES])
        copy.run("./init", "--from-cache", str(cache), check=True)
        copy.base, copy.backup = f"http://127.0.0.1:{copy.port}", f"http://127.0.0.1:{copy.backup_port}"
        copy.run_dir = copy.root / "var/hst/django/server/run"
        copy.env = {"CRDS_SHARED_DATA": str(testing.shared_data())}
        yield copy
    finally:
        remove_copy(copy)


def test_backup_port_moves_the_embedded_server_and_run_brings_it_back(embedded):
    moved = embedded.run("./run", "--backup-port", check=True)
    assert f"running at the backup port {embedded.backup_port}" in moved.stdout
    assert "started: runserver unavailable" in moved.stdout
    assert pid_files(embedded) == {"runserver.pid", "unavailable.pid"}
    assert (embedded.run_dir / "server_offline").read_text().startswith("on the backup port (./run --backup-port)")
    assert_unavailable(embedded.base, "CRDS hst django")
    status, _, body = http_get(embedded.backup + "/")
    assert status == 200 and '<td id="observatory">hst</td>' in body
    assert rpc(embedded.backup, "get_default_context", "hst")[2]["result"] == "hst_0729.pmap"
    assert "already running at the backup port" in embedded.run("./run", "--backup-port", check=True).stdout

    back = embedded.run("./run", check=True)
    assert "Stopped unavailable" in back.stdout and "Stopped runserver" in back.stdout
    assert f"running at {embedded.base}/ (started: runserver)" in back.stdout
    assert pid_files(embedded) == {"runserver.pid"}
    assert http_get(embedded.base + "/")[0] == 200
    assert rpc(embedded.base, "get_default_context", "hst")[2]["result"] == "hst_0729.pmap"
    assert refused(embedded.backup + "/")
    assert not (embedded.run_dir / "server_offline").exists()

    embedded.run("./run", "--backup-port", check=True)
    stopped = embedded.run("./stop", check=True)
    assert "Stopped unavailable" in stopped.stdout and "Stopped runserver" in stopped.stdout
    assert pid_files(embedded) == set()
    assert refused(embedded.base + "/") and refused(embedded.backup + "/")
    assert not (embedded.run_dir / "on-backup-port").exists()
    assert not (embedded.run_dir / "server_offline").exists()


def test_an_offline_flag_set_by_another_operation_outlives_the_backup_port(embedded):
    flag = embedded.run_dir / "server_offline"
    flag.write_text("backup since 2026-01-01 03:05:00\n")
    try:
        embedded.run("./run", "--backup-port", check=True)
        embedded.run("./run", check=True)
        assert flag.read_text() == "backup since 2026-01-01 03:05:00\n"
    finally:
        embedded.run("./stop", check=True)
        assert flag.exists()
        flag.unlink()


def test_run_refuses_unknown_options(embedded):
    for args in (["--backup"], ["--backup-port", "x"]):
        result = embedded.run("./run", *args)
        assert result.returncode == 2
        assert "usage: ./run [--backup-port]" in result.stderr
    assert pid_files(embedded) == set()


def test_runtests_live_self_tests_the_installed_server_and_puts_it_back(embedded):
    embedded.run("./run", check=True)
    try:
        result = embedded.run("./runtests", "--live", "-q", env=embedded.env, timeout=900)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert f"running at the backup port {embedded.backup_port}" in result.stdout
        assert " passed" in result.stdout and "failed" not in result.stdout
        assert "runtests: returning CRDS hst django to its normal port" in result.stdout
        assert pid_files(embedded) == {"runserver.pid"}
        assert http_get(embedded.base + "/")[0] == 200
        assert refused(embedded.backup + "/")
        log = (embedded.run_dir.parent / "logs/runserver.log").read_text()
        assert "/json/get_best_references/" in log  # the client really called the installed server
    finally:
        embedded.run("./stop", check=True)


@pytest.mark.parametrize("action", ["fail", "interrupt"])
def test_runtests_live_puts_the_server_back_when_tests_fail_or_are_interrupted(embedded, action, tmp_path):
    probe = embedded.root / "sources" / "backup_port_probe.py"
    probe.write_text(PROBE)
    record = tmp_path / "record.json"
    env = {**script_env(), **embedded.env, "PROBE_ACTION": action, "PROBE_RECORD": str(record),
           "PROBE_NORMAL_URL": embedded.base}
    try:
        # Its own session: the interrupting probe signals the whole process group of ./runtests.
        result = subprocess.run(["./runtests", "--live", "-q", "-p", "backup_port_probe", "-k", "test_list_status"],
                                cwd=embedded.root, env=env, capture_output=True, text=True, timeout=600,
                                start_new_session=True, stdin=subprocess.DEVNULL)
        assert result.returncode == (1 if action == "fail" else 143), result.stdout[-2000:] + result.stderr[-2000:]
        assert json.loads(record.read_text()) == {"normal": 503, "backup": 200}
        if action == "fail":
            assert "deliberate failure of the backup-port probe" in result.stdout
        assert "runtests: returning CRDS hst django to its normal port" in result.stdout
        assert pid_files(embedded) == {"runserver.pid"}
        assert http_get(embedded.base + "/")[0] == 200
        assert refused(embedded.backup + "/")
    finally:
        probe.unlink()
        embedded.run("./stop", check=True)


# ---------------------------------------------------------------- production stack


@pytest.fixture(scope="module")
def production():
    """A copy installed as hst dev (MariaDB, memcached, Apache + mod_wsgi, Celery) under /hst, running."""
    copy = make_copy()
    try:
        copy.write_production_config("hst", "dev", CRDS_URL_PREFIX="/hst")
        copy.run("./install", "hst", "dev", check=True)
        copy.run("./run", check=True, timeout=180)
        copy.base, copy.backup = f"http://127.0.0.1:{copy.port}", f"http://127.0.0.1:{copy.backup_port}"
        copy.run_dir = copy.root / "var/hst/dev/server/run"
        yield copy
    finally:
        remove_copy(copy)


def _pid(copy, component: str) -> int:
    return int((copy.run_dir / f"{component}.pid").read_text())


def test_install_renders_the_backup_apache_config(production):
    conf = production.run_dir.parent / "conf"
    normal, backup = (conf / "httpd.conf").read_text(), (conf / "httpd-backup.conf").read_text()
    assert f"Listen 127.0.0.1:{production.port}\n" in normal
    assert f"Listen 127.0.0.1:{production.backup_port}\n" in backup
    assert f"Listen 127.0.0.1:{production.port}\n" not in backup
    assert normal.replace(str(production.port), "PORT") == backup.replace(str(production.backup_port), "PORT")


def test_backup_port_moves_apache_and_run_brings_it_back(production):
    celery, memcached, httpd = _pid(production, "celery"), _pid(production, "memcached"), _pid(production, "httpd")
    moved = production.run("./run", "--backup-port", check=True, timeout=180)
    assert "started: httpd unavailable" in moved.stdout
    assert f"Stopped httpd (PID {httpd})" in moved.stdout
    assert (_pid(production, "celery"), _pid(production, "memcached")) == (celery, memcached)
    assert_unavailable(production.base, "CRDS hst dev", "/hst")
    status, headers, body = http_get(production.backup + "/hst/")
    assert status == 200 and headers["Server"] == "Apache"
    assert '<td id="observatory">hst</td>' in body
    status, _, answer = rpc(production.backup + "/hst", "get_server_info")
    assert status == 200 and answer["error"] is None and answer["result"]["observatory"] == "hst"

    back = production.run("./run", check=True, timeout=180)
    assert "started: httpd)" in back.stdout and "Stopped unavailable" in back.stdout
    status, headers, _ = http_get(production.base + "/hst/")
    assert status == 200 and headers["Server"] == "Apache"
    assert refused(production.backup + "/hst/")
    assert (_pid(production, "celery"), _pid(production, "memcached")) == (celery, memcached)

    production.run("./run", "--backup-port", check=True, timeout=180)
    stopped = production.run("./stop", check=True, timeout=180)
    for component in ("unavailable", "httpd", "celery", "memcached"):
        assert f"Stopped {component}" in stopped.stdout
    assert pid_files(production) == set()
    assert refused(production.base + "/hst/") and refused(production.backup + "/hst/")
    assert not (production.run_dir / "on-backup-port").exists()
