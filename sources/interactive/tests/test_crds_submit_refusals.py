"""The real `crds submit` client shows why the server refused a submission page.

The client reads div#error_message only from a successful response (crds/submit/web.py
`_check_error`); any other status it reports as a bare "HTTP error status N".
"""

import shutil
import subprocess
import sys

import pytest
from crds_server.testing import test_data

BIAS = "hst_acs_biasfile_0001.fits"
# The shared live server: earlier test modules may have left their instrument locks behind.
CREATE_OUTSIDER = (
    "from django.contrib.auth.models import User\n"
    "from locking.models import Lock\n"
    "Lock.objects.filter(type='instrument').delete()\n"
    "User.objects.filter(username='outsider').delete()\n"
    "User.objects.create_user('outsider', password='outsider-pw')\n"
)
CATALOG_SIZE = "from interactive.models import FileRecord; print(FileRecord.objects.count())"


@pytest.fixture(scope="module")
def server(crds_live_server):
    crds_live_server.manage("shell", "-c", CREATE_OUTSIDER)
    return crds_live_server


def test_submit_outside_the_group_shows_the_group_message(server, tmp_path):
    ref = tmp_path / BIAS
    shutil.copy(test_data() / "hst" / BIAS, ref)
    before = server.manage("shell", "-c", CATALOG_SIZE).stdout
    env = server.client_env(tmp_path / "client_cache", CRDS_USERNAME="outsider", MAST_API_TOKEN="outsider-pw")
    run = subprocess.run(
        [sys.executable, "-m", "crds.submit", "--files", str(ref), "--monitor-processing", "--wait-for-completion",
         "--wipe-existing-files", "--description", "Not allowed", "--derive-from-context", "hst_0729.pmap"],
        env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    output = run.stdout + run.stderr
    refusal = "CRDS - ERROR -  CRDS server error:  You must be a member of group 'file_submission' to use this page."
    assert refusal in output, output
    assert "HTTP error status" not in output, output
    assert "COMPLETED" not in output, output
    assert server.manage("shell", "-c", CATALOG_SIZE).stdout == before
