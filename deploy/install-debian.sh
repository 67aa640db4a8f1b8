#!/usr/bin/env bash
# Install, upgrade or remove WINS on Debian 12+ (run as root). Needs: python3, python3-venv.
#
#   install.sh                  from an offline bundle (scripts/build-bundle): no internet, no compiler
#   deploy/install-debian.sh    from a source checkout: downloads the packages from PyPI
#   ... --kiosk                 also install the kiosk user unit (on the kiosk machine)
#   ... --uwsgi                 serve with uWSGI instead of gunicorn (no WebSockets; see docs/deployment.md).
#                               uWSGI compiles from source: build-essential, python3-dev and PyPI access,
#                               unless the bundle was built with `--extra uwsgi`
#   ... --uninstall             stop and remove the program; keep /etc/wins and /var/lib/wins
#   ... --uninstall --purge     ... and remove the settings, the data and the user too (asks first; --yes)
#
# Safe to run again: the settings file and its secret are created once and kept, the data is kept, the
# schema is upgraded (`wins db upgrade`) and the service restarted. What it sets up:
#   user and group `wins` (system account, no login, no home of its own)
#   /opt/wins/venv                 Python virtual environment with wins[deploy] (gunicorn)
#   /opt/wins/{gunicorn.conf.py,uwsgi.ini,docs/,public/}   server configs, docs, static files for nginx
#   /etc/wins/wins.env             WINS_* settings (mode 0640 root:wins), with a generated WINS_SECRET_KEY
#   /var/lib/wins                  WINS_DATA_DIR: SQLite database, backups (mode 0750 wins:wins)
#   /etc/systemd/system/wins.service   (wins-uwsgi.service with --uwsgi; /etc/systemd/user/wins-kiosk.service
#                                      with --kiosk)
#
# For packaging and tests: --root DIR (or DESTDIR=DIR) installs into DIR instead of / (an empty folder is
# fine), and --no-systemctl (implied by --root) leaves systemd alone. --dry-run prints the plan and changes
# nothing. --wheels DIR installs from that wheelhouse instead of the bundle's or PyPI.
set -euo pipefail
unset PYTHONPATH PYTHONHOME  # the venv must see only what it installed

ROOT="${DESTDIR:-/}"
SOURCE="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"  # also via the bundle's install.sh link
PYTHON="${PYTHON:-python3}"
PIP_ARGS=()
MODE=install
PURGE=0
YES=0
KIOSK=0
UWSGI=0
WHEELS=""
SYSTEMCTL=1
DRY=0

usage() { sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT="$2"; shift 2 ;;
    --root=*) ROOT="${1#*=}"; shift ;;
    --source) SOURCE="$2"; shift 2 ;;
    --pip-arg) PIP_ARGS+=("$2"); shift 2 ;;
    --kiosk) KIOSK=1; shift ;;
    --uwsgi) UWSGI=1; shift ;;
    --wheels) WHEELS="$2"; shift 2 ;;
    --yes|-y) YES=1; shift ;;
    --uninstall) MODE=uninstall; shift ;;
    --purge) PURGE=1; shift ;;
    --no-systemctl) SYSTEMCTL=0; shift ;;
    --dry-run) DRY=1; shift ;;
    -h|--help) usage 0 ;;
    *) echo "unknown option: $1" >&2; usage 2 ;;
  esac
done

ROOT="${ROOT%/}"                       # "" means the real system
[ -n "$ROOT" ] && SYSTEMCTL=0          # never touch the host's systemd when installing into a folder
OPT="$ROOT/opt/wins"
ETC="$ROOT/etc/wins"
DATA="$ROOT/var/lib/wins"
UNITS="$ROOT/etc/systemd/system"
USER_UNITS="$ROOT/etc/systemd/user"
ENV_FILE="$ETC/wins.env"
# An offline bundle carries its wheelhouse next to deploy/ (see scripts/build-bundle).
[ -z "$WHEELS" ] && [ -d "$SOURCE/wheels" ] && WHEELS="$SOURCE/wheels"

say() { printf '%s\n' "$*"; }
run() {
  if [ "$DRY" = 1 ]; then printf 'would run:'; printf ' %q' "$@"; printf '\n'; else "$@"; fi
}

if [ "$DRY" = 0 ] && [ "$(id -u)" -ne 0 ]; then
  echo "Run this as root." >&2
  exit 1
fi

# -- the service account -------------------------------------------------------------------------------
ensure_user() {
  if [ -z "$ROOT" ]; then
    getent group wins >/dev/null || run groupadd --system wins
    getent passwd wins >/dev/null \
      || run useradd --system --gid wins --home-dir /var/lib/wins --no-create-home --shell /usr/sbin/nologin \
           --comment "WINS queue server" wins
  else
    # Same tools, applied to the files under --root; an empty folder gets the account files a system has.
    if [ "$DRY" = 0 ]; then
      install -d -m 0755 "$ROOT/etc"
      [ -e "$ROOT/etc/passwd" ] || printf 'root:x:0:0:root:/root:/bin/sh\n' >"$ROOT/etc/passwd"
      [ -e "$ROOT/etc/group" ] || printf 'root:x:0:\n' >"$ROOT/etc/group"
      [ -e "$ROOT/etc/shadow" ] || install -m 0640 /dev/null "$ROOT/etc/shadow"
      [ -e "$ROOT/etc/gshadow" ] || install -m 0640 /dev/null "$ROOT/etc/gshadow"
    fi
    grep -q '^wins:' "$ROOT/etc/group" 2>/dev/null || run groupadd --prefix "$ROOT" --system wins
    grep -q '^wins:' "$ROOT/etc/passwd" 2>/dev/null \
      || run useradd --prefix "$ROOT" --system --gid wins --home-dir /var/lib/wins --no-create-home \
           --shell /usr/sbin/nologin --comment "WINS queue server" wins
  fi
}

id_of() {  # id_of passwd|group -> numeric id of `wins` in the target system
  local file="$ROOT/etc/$1"
  [ "$DRY" = 1 ] && { echo 0; return; }
  awk -F: '$1 == "wins" { print $3 }' "$file"
}

# -- settings ------------------------------------------------------------------------------------------
write_env_file() {
  if [ -f "$ENV_FILE" ]; then
    say "Keeping settings in $ENV_FILE"
    return
  fi
  say "Writing $ENV_FILE with a new secret key"
  [ "$DRY" = 1 ] && return
  local secret
  secret="$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(48))')"
  umask 027
  cat >"$ENV_FILE" <<EOF
# WINS settings (every WINS_* variable is described in docs/deployment.md). Read by systemd, Supervisor,
# and by the \`wins\` command when you run: set -a; . /etc/wins/wins.env; set +a
WINS_ENV=production
WINS_SECRET_KEY=$secret
WINS_DATA_DIR=/var/lib/wins
# SQLite in WINS_DATA_DIR by default. For PostgreSQL (several workers, several hosts):
# WINS_DATABASE_URL=postgresql://wins:PASSWORD@127.0.0.1:5432/wins
WINS_HOST=127.0.0.1
WINS_PORT=8000
# Keep 1 on SQLite; on PostgreSQL e.g. 2 x CPU cores.
WINS_WORKERS=1
# Address printed in ticket QR codes, e.g. http://queue.example.lan
WINS_PUBLIC_URL=
WINS_LOG_FORMAT=text
WINS_DEMO_ON_FIRST_START=false
EOF
  umask 022
}

# Run a `wins` subcommand with the installed settings (as the service user on a real system).
wins_cmd() {
  if [ "$DRY" = 1 ]; then say "would run: wins $*"; return; fi
  (
    set -a
    # shellcheck disable=SC1090
    . "$ENV_FILE"
    set +a
    if [ -n "$ROOT" ]; then
      # Installing into a folder: the data lives under it, and the account does not exist on this host.
      export WINS_DATA_DIR="$DATA"
      "$OPT/venv/bin/wins" "$@"
    else
      cd /var/lib/wins
      runuser -u wins -- sh -c 'set -a; . /etc/wins/wins.env; set +a; exec /opt/wins/venv/bin/wins "$@"' wins "$@"
    fi
  )
}

# Symlink each static folder the app serves into /opt/wins/public/<url path>, for nginx (`root`).
link_static() {
  [ "$DRY" = 1 ] && { say "would link static folders into $OPT/public"; return; }
  rm -rf "$OPT/public"
  mkdir -p "$OPT/public"
  WINS_DATA_DIR="$(mktemp -d)" "$OPT/venv/bin/python" -m wins.ops.static "$OPT/public" "$ROOT"
}

# The Python packages: from the bundle's wheelhouse (offline, nothing compiled) or from PyPI.
install_packages() {
  local extras=deploy
  [ "$UWSGI" = 1 ] && extras=deploy,uwsgi
  if [ ! -x "$OPT/venv/bin/pip" ] || ! "$OPT/venv/bin/python" -m pip --version >/dev/null 2>&1; then
    # A venv left half-made by a failed run (typically: python3-venv missing) is rebuilt, not reused.
    run rm -rf "$OPT/venv"
    if ! run "$PYTHON" -m venv "$OPT/venv"; then
      rm -rf "$OPT/venv"
      echo "Could not create a Python virtual environment: apt install python3-venv" >&2
      exit 1
    fi
  fi
  if [ -n "$WHEELS" ]; then
    if [ -f "$SOURCE/BUNDLE" ] && [ "$DRY" = 0 ]; then
      local want have
      want="$(sed -n 's/^PYTHON_TAG=//p' "$SOURCE/BUNDLE")"
      have="$("$OPT/venv/bin/python" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
      if [ -n "$want" ] && [ "$want" != "$have" ]; then
        echo "This bundle was built for Python $want; this system has $have. Build one here with scripts/build-bundle." >&2
        exit 1
      fi
    fi
    if [ "$UWSGI" = 1 ] && ! ls "$WHEELS"/uwsgi-*.whl >/dev/null 2>&1; then
      echo "--uwsgi: this wheelhouse has no uWSGI. Build the bundle with \`scripts/build-bundle --extra uwsgi\`" >&2
      echo "(on a machine with build-essential and python3-dev), or install from a checkout with internet." >&2
      exit 1
    fi
    say "Installing from the wheelhouse $WHEELS (offline)"
    run "$OPT/venv/bin/pip" install --quiet --disable-pip-version-check --no-index --find-links "$WHEELS" \
      ${PIP_ARGS[@]+"${PIP_ARGS[@]}"} "wins[$extras]"
  else
    say "Installing from $SOURCE with packages from PyPI"
    run "$OPT/venv/bin/pip" install --quiet --disable-pip-version-check ${PIP_ARGS[@]+"${PIP_ARGS[@]}"} \
      "$SOURCE[$extras]"
  fi
}

install_units() {
  run install -d -m 0755 "$UNITS"
  run install -m 0644 "$SOURCE/deploy/systemd/wins.service" "$UNITS/wins.service"
  run install -m 0644 "$SOURCE/deploy/systemd/wins-uwsgi.service" "$UNITS/wins-uwsgi.service"
  if [ "$KIOSK" = 1 ]; then
    run install -d -m 0755 "$USER_UNITS"
    run install -m 0644 "$SOURCE/deploy/systemd/wins-kiosk.service" "$USER_UNITS/wins-kiosk.service"
  fi
}

do_install() {
  local upgrading=0
  [ -x "$OPT/venv/bin/wins" ] && upgrading=1
  say "== ${ROOT:-/}: $([ $upgrading = 1 ] && echo upgrading || echo installing) WINS from $SOURCE"
  ensure_user
  local uid gid
  uid="$(id_of passwd)"; gid="$(id_of group)"

  run install -d -m 0755 "$OPT"
  run install -d -m 0750 -o 0 -g "$gid" "$ETC"
  run install -d -m 0750 -o "$uid" -g "$gid" "$DATA"
  write_env_file
  [ "$DRY" = 1 ] || { chown "0:$gid" "$ENV_FILE"; chmod 0640 "$ENV_FILE"; }

  install_packages
  run install -m 0644 "$SOURCE/deploy/gunicorn.conf.py" "$OPT/gunicorn.conf.py"
  run install -m 0644 "$SOURCE/deploy/uwsgi.ini" "$OPT/uwsgi.ini"
  run install -d -m 0755 "$OPT/docs"
  for doc in "$SOURCE"/docs/*.md; do [ -e "$doc" ] && run install -m 0644 "$doc" "$OPT/docs/"; done
  link_static
  install_units

  # Schema first, then (re)start: an upgrade keeps every row; a failed migration leaves the old service up.
  wins_cmd db upgrade
  [ "$DRY" = 1 ] || chown -R "$uid:$gid" "$DATA"

  if [ "$SYSTEMCTL" = 1 ]; then
    local unit=wins.service other=wins-uwsgi.service
    [ "$UWSGI" = 1 ] && { unit=wins-uwsgi.service; other=wins.service; }
    run systemctl daemon-reload
    run systemctl disable --now "$other" 2>/dev/null || true
    run systemctl enable "$unit"
    run systemctl restart "$unit"
    [ "$KIOSK" = 1 ] && run systemctl --global enable wins-kiosk.service
  fi
  say "Done. Settings: $ENV_FILE   Data: $DATA"
  if [ $upgrading = 0 ]; then
    say "Next: set up the site (its branch, time zone and first admin account; it asks for each):"
    say "  runuser -u wins -- sh -c 'set -a; . /etc/wins/wins.env; exec /opt/wins/venv/bin/wins setup'"
  fi
}

# --purge deletes the database and its backups: ask, unless --yes. No terminal to ask on means no.
confirm_purge() {
  [ "$PURGE" = 1 ] || return 0
  [ "$YES" = 1 ] || [ "$DRY" = 1 ] && return 0
  local answer=""
  if [ -t 0 ]; then
    read -r -p "Delete the WINS settings ($ETC) and ALL DATA ($DATA: database, backups)? Type 'yes': " answer
  fi
  if [ "$answer" != yes ]; then
    echo "Nothing removed. --purge deletes all data; add --yes to do it without asking." >&2
    exit 1
  fi
}

do_uninstall() {
  confirm_purge
  say "== ${ROOT:-/}: removing WINS"
  if [ "$SYSTEMCTL" = 1 ]; then
    run systemctl disable --now wins.service wins-uwsgi.service || true
    run systemctl --global disable wins-kiosk.service 2>/dev/null || true
  fi
  run rm -f "$UNITS/wins.service" "$UNITS/wins-uwsgi.service" "$USER_UNITS/wins-kiosk.service"
  [ "$SYSTEMCTL" = 1 ] && run systemctl daemon-reload
  run rm -rf "$OPT"
  if [ "$PURGE" = 1 ]; then
    run rm -rf "$ETC" "$DATA"
    if [ -z "$ROOT" ]; then
      getent passwd wins >/dev/null && run userdel wins
      getent group wins >/dev/null && run groupdel wins
    else
      grep -q '^wins:' "$ROOT/etc/passwd" 2>/dev/null && run userdel --prefix "$ROOT" wins
      grep -q '^wins:' "$ROOT/etc/group" 2>/dev/null && run groupdel --prefix "$ROOT" wins
    fi
    say "Removed program, settings, data and the wins account."
  else
    say "Removed the program; kept $ETC and $DATA (use --purge to remove them too)."
  fi
}

if [ "$MODE" = install ]; then do_install; else do_uninstall; fi
