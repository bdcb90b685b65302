# host/cron_lib.sh — sourced by the operations cron jobs (nightly.cron.job, sync_server_cache ...).
# run_job NAME COMMAND...: run COMMAND at most once at a time (a lock file in $CRDS/server/run),
# append its output to the dated log $CRDS/cron_logs/NAME.YYYY-MM-DD.log, and on failure print
# one line saying why and exit non-zero (cron mails that line to the crontab's MAILTO).
# Uses the installed site (site.env), or $CRDS_SITE_ENV when set.
set -euo pipefail
CHECKOUT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
SITE_ENV=${CRDS_SITE_ENV:-$CHECKOUT/site.env}
[ -f "$SITE_ENV" ] || { echo "$(basename "$0"): no installed server ($SITE_ENV missing): run ./install first" >&2; exit 1; }
# shellcheck disable=SC1090
. "$SITE_ENV"
# One scheduler per stack: Celery beat runs the production stack's jobs, so one started there by
# host/crontab (which sets CRDS_SCHEDULER=cron) would run twice.
if [ "${CRDS_SCHEDULER:-}" = cron ] && [ "${CRDS_STACK:-}" = production ]; then
  echo "$(basename "$0"): not run: Celery beat runs the jobs of this production server; remove this crontab (crontab -r)" >&2
  exit 1
fi

# manage ARGS...: a Django command on this site (./manage for the installed one, as the service user).
manage() {
  if [ -n "${CRDS_SITE_ENV:-}" ]; then
    CRDS_SITE_ENV=$SITE_ENV "$CHECKOUT/.venv/bin/python" "$CHECKOUT/manage.py" "$@"
  else
    "$CHECKOUT/manage" "$@"
  fi
}

run_job() {
  local name=$1; shift
  local logs="$CRDS/cron_logs" lock="$CRDS/server/run/$name.lock"
  mkdir -p "$logs" "$CRDS/server/run"
  JOB_LOG="$logs/$name.$(date +%Y-%m-%d).log"
  exec 9>"$lock"
  if ! flock -n 9; then
    echo "$name: already running (lock $lock held): skipped" | tee -a "$JOB_LOG" >&2
    exit 1
  fi
  echo "==== $name started $(date '+%Y-%m-%d %H:%M:%S')" >>"$JOB_LOG"
  local status=0
  "$@" >>"$JOB_LOG" 2>&1 || status=$?
  echo "==== $name finished $(date '+%Y-%m-%d %H:%M:%S') exit $status" >>"$JOB_LOG"
  if [ "$status" != 0 ]; then
    local reason
    reason=$(grep -v '^====' "$JOB_LOG" | grep -v '^\s*$' | tail -1)
    echo "$name failed (exit $status): ${reason:-see $JOB_LOG}" >&2
    exit "$status"
  fi
}
