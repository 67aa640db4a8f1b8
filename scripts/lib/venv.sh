# shellcheck shell=bash
# Sourced by scripts/serve and scripts/test: make sure .venv is a working virtual environment.
#
# A first run that fails half-way (typically python3-venv missing: `python3 -m venv` stops after creating
# .venv/bin/python but before pip) leaves a .venv that looks usable but is not. Check that it really works
# and build it again if not, instead of failing on every later run until someone deletes it by hand.
ensure_venv() {
  # (The venv's own pip: a base Python with pip of its own would make `import pip` succeed anyway.)
  if [ -e .venv ] && ! { [ -x .venv/bin/pip ] && .venv/bin/python -m pip --version >/dev/null 2>&1; }; then
    echo "Rebuilding .venv: it is incomplete (an earlier run failed while creating it)."
    rm -rf .venv
  fi
  if [ ! -e .venv ]; then
    if ! python3 -m venv .venv; then
      rm -rf .venv
      echo "Could not create .venv. On Debian/Ubuntu: apt install python3-venv" >&2
      exit 1
    fi
  fi
}
