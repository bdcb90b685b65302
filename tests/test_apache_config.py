"""servers/ templates rendered by the installer: a config Apache accepts, with TLS when configured."""

import os
import shutil
import ssl
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from crds_server import installer, siteconfig

from conftest import IS_ROOT, free_port


@pytest.fixture
def server_root():
    root = Path(tempfile.mkdtemp(prefix="crds-apache-"))
    root.chmod(0o755)  # Apache's workers run as the service user when root starts it
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _site(root: Path, **overrides: str) -> dict[str, str]:
    site = siteconfig.render("hst", "test", environ={"CRDS": str(root)})
    site.update({"CRDS_PORT": str(free_port()), **overrides})
    if IS_ROOT:
        installer.ensure_service_user(site["CRDS_SERVER_USER"])
    return site


def test_rendered_config_passes_apache_config_test(server_root):
    site = _site(server_root)
    installer.render_server_files(site)
    conf = server_root / "server/conf/httpd.conf"
    installer.check_apache_config(site)
    text = conf.read_text()
    assert "${" not in text
    assert f"Listen 127.0.0.1:{site['CRDS_PORT']}" in text
    assert f'PidFile "{server_root}/server/run/httpd.pid"' in text
    assert 'WSGIScriptAlias / "' in text and "Alias /static/ " in text
    assert ("User crds" in text) == IS_ROOT
    assert "ssl.conf" not in text and not (server_root / "server/conf/ssl.conf").exists()
    wsgi = (server_root / "server/wsgi-scripts/crds.wsgi").read_text()
    assert f'os.environ["CRDS_SITE_ENV"] = "{siteconfig.SITE_ENV}"' in wsgi
    compile(wsgi, "crds.wsgi", "exec")


def test_apache_worker_counts_come_from_the_site_config(server_root):
    installer.render_server_files(_site(server_root, CRDS_APACHE_PROCESSES="3", CRDS_APACHE_THREADS="20"))
    text = (server_root / "server/conf/httpd.conf").read_text()
    for line in ("StartServers 3", "ServerLimit 3", "ThreadsPerChild 20", "MaxRequestWorkers 60",
                 "MinSpareThreads 20", "MaxSpareThreads 80"):
        assert f"\n{line}\n" in text


@pytest.mark.parametrize("key, value", [("CRDS_APACHE_PROCESSES", "two"), ("CRDS_APACHE_THREADS", "0"),
                                        ("CRDS_APACHE_THREADS", ""), ("CRDS_APACHE_THREADS", "\u00b2"),
                                        ("CRDS_APACHE_THREADS", "9" * 5000)])
def test_bad_apache_worker_counts_are_refused(server_root, key, value):
    with pytest.raises(installer.InstallError, match=f"{key}='{value}' in configs/: give a whole number"):
        installer.render_server_files(_site(server_root, **{key: value}))
    assert not (server_root / "server/conf/httpd.conf").exists()


def test_a_broken_template_value_is_reported(server_root):
    site = _site(server_root, CRDS_WSGI_PROCESSES="none")
    installer.render_server_files(site)
    with pytest.raises(installer.InstallError, match="Apache rejects"):
        installer.check_apache_config(site)


def test_tls_config_serves_https(server_root):
    """With CRDS_SSL_CERTIFICATE/KEY set, ssl.conf is included and Apache answers over TLS."""
    cert, key = server_root / "cert.pem", server_root / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    key.chmod(0o644)
    site = _site(server_root, CRDS_SSL_CERTIFICATE=str(cert), CRDS_SSL_KEY=str(key), CRDS_URL_PREFIX="/hst")
    installer.render_server_files(site)
    installer.check_apache_config(site)
    (server_root / "server/static/probe.txt").write_text("static over tls\n")
    conf = server_root / "server/conf/httpd.conf"
    subprocess.run([installer.apache_binary(), "-f", str(conf), "-k", "start"], check=True)
    pid_file = server_root / "server/run/httpd.pid"
    try:
        for _ in range(100):
            if pid_file.exists():
                break
            time.sleep(0.1)
        context = ssl._create_unverified_context()
        url = f"https://127.0.0.1:{site['CRDS_PORT']}/hst/static/probe.txt"
        with urllib.request.urlopen(url, context=context, timeout=30) as response:
            assert response.read() == b"static over tls\n"
            assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
    finally:
        pid = int(pid_file.read_text())
        os.kill(pid, 15)
        for _ in range(150):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
