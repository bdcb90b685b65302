# tools/script_lib.sh — shared by ./install, ./run, ./stop, ./rerun and ./manage (sourced, not run).
# Reads site.env and knows the server's processes by the PID files in $CRDS/server/run.

CHECKOUT=$(pwd)
export CRDS_SITE_ENV="$CHECKOUT/site.env"
export DJANGO_SETTINGS_MODULE=crds_server.settings
export PYTHONPATH="$CHECKOUT/sources"
PYTHON="$CHECKOUT/.venv/bin/python"

die() { echo "$SCRIPT: $*" >&2; exit 1; }

# load_site: the installed server's configuration as shell variables (not exported, so that
# ./install run from ./rerun renders configs/ afresh).
load_site() {
  [ -f "$CHECKOUT/site.env" ] || die "no CRDS server is installed in $CHECKOUT: run ./install OBS USECASE first"
  # shellcheck disable=SC1091
  . "$CHECKOUT/site.env"
  SERVER_NAME="CRDS $CRDS_OBSERVATORY $CRDS_USECASE"
  SERVER_DIR="$CRDS/server"
  RUN_DIR="$SERVER_DIR/run"
  LOG_DIR="$SERVER_DIR/logs"
  SERVICE_USER=""
  AS_SERVICE_USER=()
  if [ "$(id -u)" = 0 ] && [ "$CRDS_STACK" = production ]; then
    SERVICE_USER=$CRDS_SERVER_USER
    # setpriv and env exec, so the PID stays the program's (for PID files).
    AS_SERVICE_USER=(setpriv --reuid="$SERVICE_USER" --regid="$SERVICE_USER" --init-groups env HOME="$SERVER_DIR")
  fi
  if [ "$CRDS_STACK" = embedded ]; then
    COMPONENTS="runserver"
  elif [ "$CRDS_CACHE_BACKEND" = memcached ]; then
    COMPONENTS="memcached httpd celery"
  else
    COMPONENTS="httpd celery"
  fi
  # The component that serves the application on a port: moved to CRDS_BACKUP_PORT by
  # ./run --backup-port, while "unavailable" (tools/unavailable_server.py) answers 503 on CRDS_PORT.
  if [ "$CRDS_STACK" = embedded ]; then FRONT=runserver; else FRONT=httpd; fi
  ALL_COMPONENTS="$COMPONENTS unavailable"
  BACKUP_MARK="$RUN_DIR/on-backup-port"
}

# on_backup_port: true when ./run --backup-port started the server that runs now.
on_backup_port() { [ -f "$BACKUP_MARK" ]; }

# The backup port is a maintenance state: cron jobs and monitors see the offline flag
# (operations.backup.offline_flag) while the server is there. A flag another operation set stays.
OFFLINE_REASON="on the backup port (./run --backup-port)"
set_offline() {
  [ -e "$RUN_DIR/server_offline" ] || echo "$OFFLINE_REASON since $(date '+%Y-%m-%d %H:%M:%S')" > "$RUN_DIR/server_offline"
}
clear_offline() {
  if grep -qF "$OFFLINE_REASON" "$RUN_DIR/server_offline" 2>/dev/null; then rm -f "$RUN_DIR/server_offline"; fi
}

# stop_component COMPONENT: TERM it, wait (Celery finishes its running task), KILL it after 30 s;
# last, end whatever is left of its process group (./run starts each in its own session).
stop_component() {
  local pid
  running "$1" || { rm -f "$(pid_file "$1")"; return 0; }
  pid=$(cat "$(pid_file "$1")")
  kill -TERM "$pid" 2>/dev/null || true
  wait_stopped "$1" "$pid"
}

wait_stopped() {
  local waited=0
  while kill -0 "$2" 2>/dev/null; do
    sleep 0.2; waited=$((waited + 1))
    if [ $waited -eq 150 ]; then echo "$1 (PID $2) ignores TERM: killing it" >&2; kill -KILL "$2" 2>/dev/null || true; fi
  done
  waited=0
  while kill -0 -- "-$2" 2>/dev/null; do
    sleep 0.2; waited=$((waited + 1))
    if [ $waited -eq 25 ]; then echo "killing what is left of $1's processes" >&2; kill -KILL -- "-$2" 2>/dev/null || true; fi
  done
  rm -f "$(pid_file "$1")"
  echo "Stopped $1 (PID $2)"
}

pid_file() { echo "$RUN_DIR/$1.pid"; }

# What each component's command line contains, so that a recycled PID is not mistaken for it.
pid_signature() {
  case "$1" in
    runserver) echo "runserver" ;; memcached) echo "memcached" ;; httpd) echo "apache2" ;; celery) echo "celery" ;;
    unavailable) echo "unavailable_server" ;;
  esac
}

# running COMPONENT: true when its PID file names a live process of that component.
running() {
  local file pid
  file=$(pid_file "$1")
  pid=$(cat "$file" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$(pid_signature "$1")"
}

any_running() {
  local component
  for component in $ALL_COMPONENTS; do running "$component" && return 0; done
  return 1
}
