"""The real `crds submit` client against a running server: login with lock, uploads, certify, jpoll, logout."""

import shutil
import subprocess
import sys

import pytest
from crds.core.exceptions import CrdsWebError
from crds.submit import web
from crds_server.testing import test_data

HST = test_data() / "hst"
CREATE_USERS = (
    "from django.contrib.auth.models import User\n"
    "for name in ('sub_one', 'sub_two'):\n"
    "    User.objects.filter(username=name).delete()\n"
    "    User.objects.create_user(name, password=name + '-pw')\n"
)


@pytest.fixture(scope="module")
def server(crds_live_server):
    crds_live_server.manage("shell", "-c", CREATE_USERS)
    return crds_live_server


def connection(server, user, instrument="none"):
    # A base URL ending in "/" makes the client ask for "//login/", as it does in the field.
    return web.CrdsDjangoConnection(locked_instrument=instrument, username=user, password=user + "-pw",
                                    base_url=server.url + "/")


def test_login_lock_conflict_and_logout(server):
    one = connection(server, "sub_one", "acs")
    assert one.get("/lock_status/sub_one/").json()["status"] == "error"
    one.login()
    status = one.get("/lock_status/sub_one/").json()
    assert (status["name"], status["user"], status["status"], status["is_expired"]) == ("acs", "sub_one", "ok", False)
    one.fail_if_existing_lock()  # reads the anonymous JSON without failing

    two = connection(server, "sub_two", "acs")
    with pytest.raises(CrdsWebError):
        two.login()
    assert two.get("/lock_status/sub_two/").json()["status"] == "error"

    one.logout()
    assert connection(server, "x").get("/lock_status/sub_one/").json()["exception"] == "no lock found."
    two.login()  # the instrument is free again
    two.logout()


def test_bad_password_is_reported(server):
    bad = web.CrdsDjangoConnection(locked_instrument="none", username="sub_one", password="wrong",
                                   base_url=server.url)
    with pytest.raises(CrdsWebError):
        bad.login()


def test_chunked_upload_list_and_wipe_through_the_client(server, tmp_path):
    conn = connection(server, "sub_one")
    conn.login()
    big = tmp_path / "j8bt05njq_raw.fits"
    shutil.copy(HST / "j8bt05njq_raw.fits", big)
    assert big.stat().st_size > web._UPLOAD_CHUNK_SIZE  # sent in Content-Range chunks
    conn.upload_file(str(big))
    files = {f["name"]: f for f in conn.get("/upload/list/").json()["files"]}
    assert files["j8bt05njq_raw.fits"]["size"] == big.stat().st_size
    ingested = server.root / "server_files" / "ingest" / "sub_one" / "j8bt05njq_raw.fits"
    assert ingested.read_bytes() == big.read_bytes()
    # --wipe-existing-files deletes with a GET of deleteUrl; a guessed URL without the token does not.
    assert conn.session.get(server.url + "/upload/delete/j8bt05njq_raw.fits").status_code == 403
    assert ingested.exists()
    conn.get(files["j8bt05njq_raw.fits"]["deleteUrl"])
    assert not ingested.exists()
    conn.logout()


def test_crds_submit_certify_with_monitoring(server, tmp_path):
    ref = tmp_path / "hst_acs_biasfile_0001.fits"
    shutil.copy(HST / "hst_acs_biasfile_0001.fits", ref)
    env = server.client_env(tmp_path / "client_cache", CRDS_USERNAME="sub_two", MAST_API_TOKEN="sub_two-pw")
    run = subprocess.run(
        [sys.executable, "-m", "crds.submit", "--files", str(ref), "--submission-kind", "certify",
         "--monitor-processing", "--wait-for-completion", "--wipe-existing-files", "--derive-from-context",
         "hst_0729.pmap"],
        env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "Certifying 'hst_acs_biasfile_0001.fits' [1 / 1 files]" in output
    assert "COMPLETED:" in output and "/display_result/" in output, output
    assert "ERROR" not in output, output
