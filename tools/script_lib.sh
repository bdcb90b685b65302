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
  # A later issue adds the backup server (--backup-port) as one more component here.
}

pid_file() { echo "$RUN_DIR/$1.pid"; }

# What each component's command line contains, so that a recycled PID is not mistaken for it.
pid_signature() {
  case "$1" in
    runserver) echo "runserver" ;; memcached) echo "memcached" ;; httpd) echo "apache2" ;; celery) echo "celery" ;;
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
  for component in $COMPONENTS; do running "$component" && return 0; done
  return 1
}
