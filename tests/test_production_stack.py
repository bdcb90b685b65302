"""The production stack as ./install and ./run set it up: MariaDB, memcached, Apache + mod_wsgi, Celery + Redis.

A copy of the checkout is installed as hst dev on free ports, under the URL
prefix /hst, with its own database, Celery queue and memcached; every part is
checked to really run and really be used.
"""

import hashlib
import json
import os
import re
import signal
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from celery import Celery
from pymemcache.client.base import Client as Memcache

from conftest import IS_ROOT, REDIS_URL, free_port, http_get, make_copy, remove_copy


@pytest.fixture(scope="module")
def production():
    copy = make_copy()
    try:
        copy.write_production_config("hst", "dev", CRDS_URL_PREFIX="/hst")
        installed = copy.run("./install", "hst", "dev", check=True)
        assert "Installed CRDS server hst dev" in installed.stdout
        copy.started = copy.run("./run", check=True, timeout=180)
        copy.base = f"http://127.0.0.1:{copy.port}"
        copy.server_dir = copy.root / "var/hst/dev/server"
        yield copy
    finally:
        remove_copy(copy)


def _pid(copy, component: str) -> int:
    return int((copy.server_dir / "run" / f"{component}.pid").read_text())


def _uid(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^Uid:\s+(\d+)", status, re.M).group(1))


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _mariadb(sql: str, database: str = "") -> list[str]:
    result = subprocess.run(["mariadb", "-uroot", "-N", "-e", sql, *([database] if database else [])],
                            capture_output=True, text=True, check=True)
    return result.stdout.split()


def test_run_started_every_component(production):
    assert "CRDS hst dev is running at" in production.started.stdout
    assert "started: memcached httpd celery" in production.started.stdout
    assert os.readlink(f"/proc/{_pid(production, 'httpd')}/exe") == "/usr/sbin/apache2"
    assert "memcached" in os.readlink(f"/proc/{_pid(production, 'memcached')}/exe")
    cmdline = Path(f"/proc/{_pid(production, 'celery')}/cmdline").read_text().split("\0")
    assert ["-m", "celery", "-A", "crds_server", "worker", "-Q", production.queue] == cmdline[1:8]


def test_install_created_the_mariadb_database(production):
    site = production.site()
    assert site["CRDS_DB_NAME"] == f"{production.db_prefix}_hst_dev"
    tables = _mariadb("SHOW TABLES", site["CRDS_DB_NAME"])
    assert {"django_migrations", "interactive_filerecord", "interactive_contextpointer", "auth_user"} <= set(tables)
    assert int(_mariadb("SELECT COUNT(*) FROM django_migrations", site["CRDS_DB_NAME"])[0]) > 10
    rendered = (production.server_dir / "conf/httpd.conf").read_text()
    assert f"Listen 127.0.0.1:{production.port}" in rendered
    assert f'WSGIScriptAlias /hst "{production.server_dir}/wsgi-scripts/crds.wsgi"' in rendered
    assert "LoadModule wsgi_module" in rendered and "WSGIPythonHome" in rendered


def test_apache_serves_pages_from_mariadb_under_the_prefix(production):
    context = f"hst_{uuid.uuid4().int % 10**6:06d}.pmap"
    production.run("./manage", "shell", "-v", "0", "-c",
                   "from django.db import transaction\nfrom interactive import contexts\n"
                   f"with transaction.atomic(): contexts.set_pointer('latest', '{context}', 'test')", check=True)
    status, headers, body = http_get(production.base + "/hst/")
    assert status == 200
    assert headers["Server"] == "Apache"
    assert '<td id="observatory">hst</td>' in body
    assert context in body
    links = re.findall(r'(?:href|src)="(/[^"]*)"', body)
    assert links and all(link.startswith("/hst/") for link in links), links
    assert http_get(production.base + "//hst//")[0] == 200
    assert http_get(production.base + "/")[0] == 403  # nothing outside the prefix


def test_apache_serves_collected_static_files(production):
    status, headers, css = http_get(production.base + "/hst/static/admin/css/base.css")
    assert status == 200
    assert headers["Server"] == "Apache" and "Expires" in headers and "ETag" in headers
    assert css == (production.server_dir / "static/admin/css/base.css").read_text()
    assert http_get(production.base + "/hst//static//admin/css/base.css")[0] == 200
    access_log = (production.server_dir / "logs/access_log").read_text()
    assert "GET /hst/static/admin/css/base.css HTTP/1.1\" 200" in access_log


@pytest.mark.skipif(not IS_ROOT, reason="only a root-run server switches to the service user")
def test_processes_run_as_the_service_user(production):
    import pwd

    crds = pwd.getpwnam("crds").pw_uid
    apache = _pid(production, "httpd")
    assert _uid(apache) == 0  # the parent binds the port and opens the logs
    workers = _children(apache)
    assert workers and all(_uid(pid) == crds for pid in workers)
    assert _uid(_pid(production, "celery")) == crds
    assert _uid(_pid(production, "memcached")) == crds
    secrets = Path(production.site()["CRDS_SECRETS_FILE"])
    assert secrets.stat().st_uid == crds and secrets.stat().st_mode & 0o777 == 0o600


def test_django_cache_is_memcached(production):
    memcache = Memcache(("127.0.0.1", production.memcached_port))
    hits_before = int(memcache.stats()[b"get_hits"])
    result = production.run("./manage", "shell", "-v", "0", "-c",
                            "from django.core.cache import cache\ncache.set('probe', 'from-django', 60)\n"
                            "print(cache.get('probe'))", check=True)
    assert result.stdout.split() == ["from-django"]
    assert int(memcache.stats()[b"get_hits"]) > hits_before
    assert memcache.get(f"{production.queue}:1:probe") == b"from-django"


def test_celery_worker_executes_tasks(production):
    token = uuid.uuid4().hex
    app = Celery(broker=REDIS_URL, backend=REDIS_URL)
    try:
        answer = app.send_task("crds_server.tasks.ping", args=[token], queue=production.queue).get(timeout=90)
    finally:
        app.close()
    assert answer["token"] == token
    assert (answer["observatory"], answer["usecase"]) == ("hst", "dev")
    assert answer["pid"] in _children(_pid(production, "celery"))
    if IS_ROOT:
        assert answer["user"] == "crds"
    # The worker's cache is the same memcached.
    memcache = Memcache(("127.0.0.1", production.memcached_port))
    assert memcache.get(f"{production.queue}:1:crds_server.ping") == token.encode()


def test_crds_client_works_through_apache(production):
    """./init --force (as the service user) bootstraps a rule set; the real crds client reads it over JSON-RPC."""
    result = production.run("./init", "--force", timeout=300)  # an earlier test set a pointer
    assert result.returncode == 0, result.stderr[-2000:]
    mappings = production.root / "var/hst/dev/file_cache/mappings/hst"
    pmaps = sorted(mappings.glob("hst_*.pmap"))
    assert pmaps
    if IS_ROOT:
        import pwd

        assert pmaps[0].stat().st_uid == pwd.getpwnam("crds").pw_uid
    env = {"PATH": os.environ["PATH"], "HOME": str(production.root), "CRDS_OBSERVATORY": "hst",
           "CRDS_SERVER_URL": f"{production.base}/hst", "CRDS_PATH": str(production.root / "client_cache")}
    status = subprocess.run([str(production.root / ".venv/bin/crds"), "list", "--status"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert status.returncode == 0, status.stderr[-2000:]
    assert f"CRDS_SERVER_URL = '{production.base}/hst'" in status.stdout
    assert re.search(r"Effective Context = 'hst_\d+\.pmap'", status.stdout), status.stdout


def test_whole_file_downloads_are_handed_to_apache(production):
    """After the view's checks Apache sends the file itself; the file cache is not reachable directly."""
    mapping = sorted((production.root / "var/hst/dev/file_cache/mappings/hst").glob("hst_*.pmap"))[0]
    data = mapping.read_bytes()
    url = f"{production.base}/hst/unchecked_get/mappings/hst/{mapping.name}"
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.read() == data
        assert response.headers["ETag"] == f'"{hashlib.sha1(data).hexdigest()}"'
        assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert "Last-Modified" in response.headers  # Apache's static handler, not the FileResponse
    partial = urllib.request.Request(url, headers={"Range": "bytes=10-19"})
    with urllib.request.urlopen(partial, timeout=30) as response:
        assert (response.status, response.read()) == (206, data[10:20])
    for direct in (f"/hst/_delivered_files/mappings/hst/{mapping.name}",
                   f"/hst/%5Fdelivered_files/mappings/hst/{mapping.name}"):
        assert http_get(production.base + direct)[0] == 403
    status, _, body = http_get(f"{production.base}/hst/unchecked_get/mappings/hst/hst_nothing_0001.rmap")
    assert (status, body) == (404, "File 'hst_nothing_0001.rmap' is not known to CRDS.\n")


def _rpc(production, method: str, *params) -> dict:
    body = json.dumps({"jsonrpc": "1.0", "method": method, "params": list(params), "id": 1}).encode()
    with urllib.request.urlopen(f"{production.base}/hst/json/", body, timeout=30) as response:
        return json.loads(response.read())


def _wsgi_daemons(production) -> list[int]:
    return [pid for pid in _children(_pid(production, "httpd"))
            if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"(wsgi:")]


def _loaded_application(pid: int) -> bool:
    """The process has imported the application: Django's MariaDB driver and crds' numpy are mapped."""
    maps = Path(f"/proc/{pid}/maps").read_text()
    return "/_mysql.cpython" in maps and "/_multiarray_umath.cpython" in maps


def test_json_rpc_runs_in_apache_workers(production):
    """The client's calls never wait for the WSGI daemons (mod_wsgi embedded mode for /json/)."""
    daemons = _wsgi_daemons(production)
    assert len(daemons) == int(production.site()["CRDS_WSGI_PROCESSES"])
    for pid in daemons:
        os.kill(pid, signal.SIGSTOP)
    try:
        for _ in range(10):
            answer = _rpc(production, "file_exists", "hst_0001.pmap")  # looked up in the catalog
            assert answer["error"]["message"] == "OtherError: File &#x27;hst_0001.pmap&#x27; is not known to CRDS."
        with pytest.raises(OSError):  # the pages do wait for them: the daemons really are stopped
            urllib.request.urlopen(f"{production.base}/hst/", timeout=2)
    finally:
        for pid in daemons:
            os.kill(pid, signal.SIGCONT)
    assert http_get(production.base + "/hst/")[0] == 200


def test_json_rpc_workers_keep_no_database_connections(production):
    """Apache's up to 100 worker threads must not each hold a MariaDB connection (the daemons' 30 do)."""
    from concurrent.futures import ThreadPoolExecutor

    user = production.site()["CRDS_DB_USER"]
    count = f"SELECT COUNT(*) FROM information_schema.processlist WHERE user = '{user}'"
    before = int(_mariadb(count)[0])
    with ThreadPoolExecutor(16) as pool:  # file_exists reads the catalog
        answers = list(pool.map(lambda _: _rpc(production, "file_exists", "hst_0001.pmap"), range(160)))
    assert all("is not known to CRDS" in answer["error"]["message"] for answer in answers)
    assert int(_mariadb(count)[0]) <= before + 2  # + what Celery may have opened meanwhile


def test_json_rpc_workers_forget_their_rules_when_the_script_changes(production):
    """A restore touches the WSGI script; Apache's workers re-run it and forget what they had seen."""
    database = production.site()["CRDS_DB_NAME"]
    query = "SELECT name, state FROM interactive_filerecord WHERE name LIKE 'hst%.pmap' ORDER BY name LIMIT 1"
    if not _mariadb(query, database):
        production.run("./init", "--force", check=True, timeout=300)
    pmap, state = _mariadb(query, database)
    invalidate = ("./manage", "shell", "-v", "0", "-c", "from interactive import cache\ncache.invalidate()")
    for _ in range(20):  # reaches every worker process: each remembers the context as distributable
        assert _rpc(production, "get_required_parkeys", pmap)["error"] is None
    # What a restore of an older catalog does: the context is no longer distributable.
    _mariadb(f"UPDATE interactive_filerecord SET state = 'uploaded' WHERE name = '{pmap}'", database)
    try:
        production.run(*invalidate, check=True)
        script = production.server_dir / "wsgi-scripts/crds.wsgi"
        os.utime(script, (script.stat().st_atime, script.stat().st_mtime + 10))
        errors = [_rpc(production, "get_required_parkeys", pmap)["error"] for _ in range(20)]
        assert all(error and f"File &#x27;{pmap}&#x27; is not yet available." in error["message"]
                   for error in errors), errors
    finally:
        _mariadb(f"UPDATE interactive_filerecord SET state = '{state}' WHERE name = '{pmap}'", database)
        production.run(*invalidate, check=True)


def test_run_twice_says_already_running(production):
    pids = {component: _pid(production, component) for component in ("memcached", "httpd", "celery")}
    result = production.run("./run", check=True)
    assert "CRDS hst dev is already running" in result.stdout
    assert pids == {component: _pid(production, component) for component in pids}


def test_rerun_then_stop_stops_everything(production):
    """Last in this module: rerun restarts every process; stop then leaves none, and says so when run again."""
    old = {component: _pid(production, component) for component in ("memcached", "httpd", "celery")}
    result = production.run("./rerun", check=True, timeout=300)
    assert "started: memcached httpd celery" in result.stdout
    assert (production.root / "install.hst.dev.err").read_text().count("Installed CRDS server hst dev") == 1
    new = {component: _pid(production, component) for component in old}
    assert all(new[c] != old[c] for c in old)
    # ./rerun's own check reached one daemon; every daemon has loaded the application by itself,
    # so no client's first request waits for it.
    deadline = time.monotonic() + 60
    while not all(_loaded_application(pid) for pid in _wsgi_daemons(production)):
        assert time.monotonic() < deadline, "a WSGI daemon did not load the application when it started"
        time.sleep(0.5)
    assert http_get(production.base + "/hst/")[0] == 200

    stopped = production.run("./stop", check=True)
    for component in ("celery", "httpd", "memcached"):
        assert f"Stopped {component} (PID {new[component]})" in stopped.stdout
        assert not (production.server_dir / "run" / f"{component}.pid").exists()
    for pid in new.values():
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert _children(new["httpd"]) == []
    again = production.run("./stop")
    assert again.returncode == 0 and "CRDS hst dev is not running." in again.stdout


@pytest.mark.skipif(not IS_ROOT, reason="only a root-run install switches to the service user")
def test_install_refuses_a_checkout_the_service_user_cannot_read():
    copy = make_copy()
    try:
        copy.write_config("hst", "test", CRDS_PORT=str(free_port()), CRDS_BACKUP_PORT=str(free_port()),
                          CRDS_MEMCACHED_PORT=str(free_port()))
        copy.root.chmod(0o700)
        result = copy.run("./install", "hst", "test")
        assert result.returncode == 1
        assert f"install: user crds cannot read the checkout {copy.root} or its .venv" in result.stderr
        assert "Traceback" not in result.stderr
        assert _mariadb(f"SHOW DATABASES LIKE '{copy.db_prefix}%'") == []
    finally:
        copy.root.chmod(0o755)
        remove_copy(copy)
