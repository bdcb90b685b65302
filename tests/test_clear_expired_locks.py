"""host/clear_expired_locks: the cron job deletes expired lock rows of the site it is pointed at."""

import re
import subprocess
from datetime import date

from crds_server.testing import CHECKOUT

SETUP = (
    "import datetime\n"
    "from locking.models import Lock\n"
    "now = datetime.datetime.now()\n"
    "Lock.objects.filter(user__startswith='cron_').delete()\n"
    "Lock.objects.create(locked_object='cron$old', type='cron', name='old', user='cron_old',\n"
    "                    max_age=60, expires_on=now - datetime.timedelta(minutes=1))\n"
    "Lock.objects.create(locked_object='cron$new', type='cron', name='new', user='cron_new',\n"
    "                    max_age=60, expires_on=now + datetime.timedelta(hours=1))\n"
)
SHOW = "from locking.models import Lock; print(sorted(Lock.objects.filter(user__startswith='cron_')" \
       ".values_list('user', flat=True)))"


def test_script_clears_only_expired_locks(crds_live_server):
    crds_live_server.manage("shell", "-c", SETUP)
    run = subprocess.run([str(CHECKOUT / "host" / "clear_expired_locks")], env=crds_live_server.env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and not run.stdout, run.stderr
    log = (crds_live_server.root / "cron_logs" / f"clear_expired_locks.{date.today():%Y-%m-%d}.log").read_text()
    assert re.search(r"Cleared [1-9]\d* expired lock\(s\)\.", log), log
    assert crds_live_server.manage("shell", "-c", SHOW).stdout.strip().splitlines()[-1] == "['cron_new']"
