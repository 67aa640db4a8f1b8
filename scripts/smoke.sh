#!/usr/bin/env bash
# Smoke test of a running WINS server with curl: sign in, issue a ticket, call it, complete it, check the
# queue. Stops at the first unexpected status and says which step failed.
#
#   WINS_SMOKE_USER=admin WINS_SMOKE_PASSWORD=... scripts/smoke.sh http://queue.example.lan
#
# The account needs the staff role or higher. It opens a counter, so run it outside opening hours or on a
# test server: it issues and serves one real ticket. Needs curl and python3 (for reading JSON).
set -euo pipefail

BASE="${1:-${WINS_SMOKE_URL:-}}"
USER_NAME="${WINS_SMOKE_USER:-}"
PASSWORD="${WINS_SMOKE_PASSWORD:-}"
if [ -z "$BASE" ] || [ -z "$USER_NAME" ] || [ -z "$PASSWORD" ]; then
  echo "usage: WINS_SMOKE_USER=... WINS_SMOKE_PASSWORD=... $0 BASE_URL" >&2
  exit 2
fi
BASE="${BASE%/}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
STEP=0
TOKEN=""

fail() { echo "FAIL: $*" >&2; exit 1; }

# call NAME EXPECTED_STATUS METHOD PATH [curl args...]: body goes to $WORK/body, prints a line.
call() {
  local name="$1" expected="$2" method="$3" path="$4"
  shift 4
  STEP=$((STEP + 1))
  local auth=()
  [ -n "$TOKEN" ] && auth=(-H "Authorization: Bearer $TOKEN")
  local status
  status="$(curl -sS -o "$WORK/body" -w '%{http_code}' -X "$method" --max-time 30 \
    ${auth[@]+"${auth[@]}"} "$@" "$BASE$path")" || fail "step $STEP ($name): $method $path: curl could not connect"
  if [ "$status" != "$expected" ]; then
    echo "FAIL: step $STEP ($name): $method $path answered $status, expected $expected" >&2
    head -c 2000 "$WORK/body" >&2; echo >&2
    exit 1
  fi
  printf 'ok %2d  %-28s %s %s -> %s\n' "$STEP" "$name" "$method" "$path" "$status"
}

# json EXPR: evaluate a Python expression on the last body (bound to `b`); fails loudly if it cannot.
json() {
  python3 -c 'import json,sys; b=json.load(open(sys.argv[1])); v=eval(sys.argv[2]); print("" if v is None else v)' \
    "$WORK/body" "$1" 2>/dev/null || fail "step $STEP: unexpected body for $1: $(head -c 500 "$WORK/body")"
}
expect() {  # expect EXPR VALUE
  local got; got="$(json "$1")"
  [ "$got" = "$2" ] || fail "step $STEP: $1 is '$got', expected '$2'"
}

call "health" 200 GET /health
expect 'b["status"]' ok

call "refuses without a token" 401 GET /api/v1/queue
call "refuses a wrong password" 401 POST /api/v1/auth/token \
  --data-urlencode "username=$USER_NAME" --data-urlencode "password=not-$PASSWORD"

call "sign in" 200 POST /api/v1/auth/token \
  --data-urlencode "username=$USER_NAME" --data-urlencode "password=$PASSWORD"
TOKEN="$(json 'b["access_token"]')"
[ -n "$TOKEN" ] || fail "no access_token in the sign-in answer"

call "who am I" 200 GET /api/v1/auth/me
expect 'b["username"]' "$USER_NAME"

call "services" 200 GET '/api/v1/services?active_only=true'
SERVICE_ID="$(json 'b[0]["id"]')"

call "counters" 200 GET /api/v1/counters
# A counter that calls this service.
COUNTER_ID="$(python3 -c 'import json,sys; s=int(sys.argv[2]); print(next(c["id"] for c in json.load(open(sys.argv[1])) if s in c["service_ids"] and c["active"]))' "$WORK/body" "$SERVICE_ID" 2>/dev/null)" \
  || fail "no active counter calls service $SERVICE_ID"

call "open counter" 200 POST "/api/v1/counters/$COUNTER_ID/open"
expect 'b["is_open"]' True

KEY="smoke-$(date +%s)-$$"
call "issue ticket" 201 POST /api/v1/tickets -H 'Content-Type: application/json' -H "Idempotency-Key: $KEY" \
  -d "{\"service_id\": $SERVICE_ID}"
TICKET_ID="$(json 'b["id"]')"
NUMBER="$(json 'b["number"]')"
expect 'b["status"]' waiting
call "same key, same ticket" 200 POST /api/v1/tickets -H 'Content-Type: application/json' \
  -H "Idempotency-Key: $KEY" -d "{\"service_id\": $SERVICE_ID}"
expect 'b["id"]' "$TICKET_ID"

TRACKING="$(json 'b["tracking_token"]')"
SAVED="$TOKEN"; TOKEN=""  # the customer's phone has no token
call "track it like a phone" 200 GET "/api/v1/public/tickets/$TRACKING"
expect 'b["status"]' waiting
TOKEN="$SAVED"

# Call until our ticket comes up (a live server may have other tickets waiting before it).
for _ in $(seq 1 50); do
  call "call next" 200 POST "/api/v1/counters/$COUNTER_ID/call-next"
  [ "$(json 'b["id"]')" = "$TICKET_ID" ] && break
done
expect 'b["id"]' "$TICKET_ID"
expect 'b["status"]' called

call "start serving" 200 POST "/api/v1/tickets/$TICKET_ID/start"
expect 'b["status"]' serving
call "complete" 200 POST "/api/v1/tickets/$TICKET_ID/complete"
expect 'b["status"]' done
call "cannot complete twice" 409 POST "/api/v1/tickets/$TICKET_ID/complete"

call "queue" 200 GET /api/v1/queue
python3 -c 'import json,sys; b=json.load(open(sys.argv[1])); assert isinstance(b, dict) and "last_event_id" in b, b' \
  "$WORK/body" || fail "queue snapshot has no last_event_id"
call "event stream" 200 GET "/api/v1/events?since=0&timeout=0&limit=1"
python3 -c 'import json,sys; b=json.load(open(sys.argv[1])); assert b["events"] and b["last_id"] >= b["events"][-1]["id"]' \
  "$WORK/body" || fail "event stream is empty after a ticket was issued and served"

call "close counter" 200 POST "/api/v1/counters/$COUNTER_ID/close"
echo "SMOKE OK: ticket $NUMBER issued, called, served at $BASE"
