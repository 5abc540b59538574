#!/usr/bin/env bash
# The benchmark peer: Keycloak (pinned, from Maven Central) in start-dev mode with an SMTP sink,
# set up so that a load generator can time its "send a register-passkey e-mail" call
# (PUT /admin/realms/bench/users/{id}/execute-actions-email ["webauthn-register-passwordless"]).
#
#   scripts/peer.sh start STATE_DIR   install (once), start, set up, write STATE_DIR/peer.env
#   scripts/peer.sh stop STATE_DIR    stop what start started (by PID); nothing to stop is fine
#
# STATE_DIR/peer.env (shell-sourceable): PEER_URL, PEER_REALM, PEER_TOKEN (a client_credentials
# token of the bench-admin client, 3600 s), PEER_USERS (comma-separated user ids), PEER_PID (the
# JVM's PID, for /proc/PID/stat and /proc/PID/status), PEER_SMTP_PID (the sink's), PEER_START_MS (spawn until GET
# /realms/master answers 200), PEER_VERSION, PEER_JAVA. STATE_DIR also holds keycloak.log,
# smtp.log, smtp.count (mails the sink received) and smtp.last.eml (the last one).
#
# Environment: PEER_JAVA_HOME (a JDK 25; else found under /usr/lib/jvm), PEER_HTTP_PORT (18480),
# PEER_MGMT_PORT (18490), PEER_SMTP_PORT (18425), PEER_USERS (20 users made), PEER_KC_ARGS (more
# options for kc.sh start-dev, split on spaces; none by default).
#
# The management port is passed but stays closed: Keycloak opens it only when health or metrics
# are enabled, and they are not (its defaults). PEER_START_MS includes start-dev's re-augmentation
# of the distribution for the dev profile (a first JVM that exits with code 10, after which kc.sh
# execs the server's JVM); PEER_AUGMENT_MS is that part, as Keycloak logs it.
#
# JVM flags: none of our own. kc.sh's defaults are kept as they are (G1, -Xms64m -Xmx512m outside
# a container, MaxMetaspaceSize=256m, ExitOnOutOfMemoryError): the peer runs as Keycloak ships
# it, tuned neither up nor down. Neither is Keycloak's configuration changed beyond what start-dev
# needs here (host, ports). Note that start-dev itself differs from production `start`: a local
# (not clustered) cache, an embedded H2 database, and theme/template caching off.
set -euo pipefail
# peer.env holds a bearer token: everything this script writes is for its user only.
umask 077
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
KEYCLOAK_VERSION="$(sed -n 's/^KEYCLOAK_VERSION=//p' "$ROOT/scripts/tools.sh")"
HTTP_PORT="${PEER_HTTP_PORT:-18480}"
MGMT_PORT="${PEER_MGMT_PORT:-18490}"
SMTP_PORT="${PEER_SMTP_PORT:-18425}"
USER_COUNT="${PEER_USERS:-20}"
REALM=bench
CLIENT=bench-admin
# Keycloak answers in a few seconds on a fast machine; start-dev's first step (re-augmentation of
# the distribution for the dev profile) makes it tens of seconds on a small, busy one.
START_SECONDS=300

usage() { echo "usage: $0 start|stop STATE_DIR" >&2; exit 2; }
[[ $# == 2 ]] || usage
COMMAND="$1"
if [[ "$COMMAND" == stop && ! -d "$2" ]]; then exit 0; fi
mkdir -p "$2"
STATE="$(cd "$2" && pwd)"

port_answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
alive() { # PID: a live process (a zombie, exited but not reaped, is not)
  kill -0 "$1" 2>/dev/null && [[ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" != Z ]]
}
now_ms() { date +%s%3N; }

# TERM to the process group NAME.pgid names (the wrapper and everything it started), else to
# NAME.pid; up to 10 s for the PID to go, then KILL. Nothing to stop is fine.
stop_one() {
  local name="$1" pid pgid=""
  [[ -f "$STATE/$name.pid" ]] || return 0
  pid="$(cat "$STATE/$name.pid")"
  [[ -f "$STATE/$name.pgid" ]] && pgid="$(cat "$STATE/$name.pgid")"
  if alive "$pid" || { [[ -n "$pgid" ]] && kill -0 -- "-$pgid" 2>/dev/null; }; then
    if [[ -n "$pgid" ]]; then kill -TERM -- "-$pgid" 2>/dev/null || true; fi
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do alive "$pid" || break; sleep 0.1; done
    if [[ -n "$pgid" ]]; then kill -KILL -- "-$pgid" 2>/dev/null || true; fi
    kill -KILL "$pid" 2>/dev/null || true
    echo "peer: $name stopped (pid $pid)" >&2
  fi
  rm -f "$STATE/$name.pid" "$STATE/$name.pgid"
}

do_stop() {
  stop_one keycloak
  stop_one smtp
  # The per-run copy of the distribution (with its H2 database): 175 MB, of no use once stopped.
  rm -rf "$STATE/keycloak"
}

find_java_home() {
  local candidate
  if [[ -n "${PEER_JAVA_HOME:-}" ]]; then
    [[ -x "$PEER_JAVA_HOME/bin/java" ]] || { echo "peer: PEER_JAVA_HOME=$PEER_JAVA_HOME has no bin/java" >&2; exit 1; }
    echo "$PEER_JAVA_HOME"; return
  fi
  # The machine's default java is 17; Keycloak 26.5 runs on 21 or 25, and the peer is pinned to 25.
  for candidate in /usr/lib/jvm/temurin-25-jdk-* /usr/lib/jvm/*25*; do
    if [[ -x "$candidate/bin/java" ]]; then echo "$candidate"; return; fi
  done
  echo "peer: no JDK 25 found under /usr/lib/jvm (temurin-25-jdk-* or *25*): install one or set PEER_JAVA_HOME" >&2
  exit 1
}

# The SMTP sink: accepts every mail, keeps none but the last (smtp.last.eml, to read a link), and
# counts them in smtp.count, so that a run can check that every call sent one.
SINK_PY='
import asyncio, os, sys
from aiosmtpd.smtp import SMTP
host, port, state = sys.argv[1], int(sys.argv[2]), sys.argv[3]
class Count:
    n = 0
    async def handle_DATA(self, server, session, envelope):
        Count.n += 1
        with open(os.path.join(state, "smtp.last.eml"), "wb") as f:
            f.write(envelope.original_content or b"")
        with open(os.path.join(state, "smtp.count.tmp"), "w") as f:
            f.write(f"{Count.n}\n")
        os.replace(os.path.join(state, "smtp.count.tmp"), os.path.join(state, "smtp.count"))
        return "250 OK"
async def main():
    server = await asyncio.get_running_loop().create_server(lambda: SMTP(Count()), host, port)
    async with server:
        await server.serve_forever()
asyncio.run(main())
'

# The realm, client, users and token, through the admin REST API (stdlib only). Prints the
# peer.env lines for PEER_TOKEN and PEER_USERS.
SETUP_PY='
import json, os, sys, time, urllib.request, urllib.parse, urllib.error
url, realm, client, smtp_port, users = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
admin_user, admin_password = os.environ["KC_BOOTSTRAP_ADMIN_USERNAME"], os.environ["KC_BOOTSTRAP_ADMIN_PASSWORD"]

def call(method, path, body=None, token=None, form=None):
    headers = {}
    data = None
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = "Bearer " + token
    request = urllib.request.Request(url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request) as response:
            text = response.read()
            return response.status, response.headers, (json.loads(text) if text else None)
    except urllib.error.HTTPError as error:
        sys.exit(f"peer: {method} {path} answered {error.code}: {error.read()[:500]!r}")

# admin-cli tokens of the master realm live 60 s: a fresh one every 30 s.
_admin = [None, 0.0]
def admin():
    if time.monotonic() - _admin[1] > 30:
        _, _, body = call("POST", "/realms/master/protocol/openid-connect/token", form={
            "grant_type": "password", "client_id": "admin-cli",
            "username": admin_user, "password": admin_password})
        _admin[:] = [body["access_token"], time.monotonic()]
    return _admin[0]

base = "/admin/realms/" + realm
call("POST", "/admin/realms", token=admin(), body={
    "realm": realm, "enabled": True,
    # Long enough for a 10-minute benchmark on one token.
    "accessTokenLifespan": 3600,
    "smtpServer": {"host": "127.0.0.1", "port": smtp_port, "from": "no-reply@bench.example",
                   "fromDisplayName": "Bench", "auth": "false", "ssl": "false", "starttls": "false"}})

# The WebAuthn passwordless required action: registered and enabled (it is in a new realm of
# 26.5; register or enable it when it is not).
actions = {a["alias"]: a for a in call("GET", base + "/authentication/required-actions", token=admin())[2]}
action = "webauthn-register-passwordless"
if action not in actions:
    unregistered = call("GET", base + "/authentication/unregistered-required-actions", token=admin())[2]
    match = [a for a in unregistered if a["providerId"] == action]
    if not match:
        sys.exit(f"peer: no {action} required action provider in this Keycloak")
    call("POST", base + "/authentication/register-required-action", token=admin(),
         body={"providerId": action, "name": match[0]["name"]})
    actions = {a["alias"]: a for a in call("GET", base + "/authentication/required-actions", token=admin())[2]}
    print(f"peer: registered the {action} required action", file=sys.stderr)
if not actions[action]["enabled"]:
    call("PUT", base + "/authentication/required-actions/" + action, token=admin(),
         body=dict(actions[action], enabled=True))
    print(f"peer: enabled the {action} required action", file=sys.stderr)

# A confidential client whose service account may manage users (execute-actions-email asks for
# manage on the user, which realm-management manage-users gives).
_, headers, _ = call("POST", base + "/clients", token=admin(), body={
    "clientId": client, "enabled": True, "protocol": "openid-connect", "publicClient": False,
    "clientAuthenticatorType": "client-secret", "serviceAccountsEnabled": True,
    "standardFlowEnabled": False, "directAccessGrantsEnabled": False, "implicitFlowEnabled": False})
client_id = headers["Location"].rsplit("/", 1)[1]
secret = call("GET", f"{base}/clients/{client_id}/client-secret", token=admin())[2]["value"]
service_user = call("GET", f"{base}/clients/{client_id}/service-account-user", token=admin())[2]["id"]
management = call("GET", base + "/clients?clientId=realm-management", token=admin())[2][0]["id"]
role = call("GET", f"{base}/clients/{management}/roles/manage-users", token=admin())[2]
call("POST", f"{base}/users/{service_user}/role-mappings/clients/{management}", token=admin(), body=[role])

ids = []
for n in range(1, users + 1):
    _, headers, _ = call("POST", base + "/users", token=admin(), body={
        "username": f"user{n}", "email": f"user{n}@bench.example", "emailVerified": True,
        "enabled": True, "firstName": "User", "lastName": f"Number{n}"})
    ids.append(headers["Location"].rsplit("/", 1)[1])

token = call("POST", f"/realms/{realm}/protocol/openid-connect/token", form={
    "grant_type": "client_credentials", "client_id": client, "client_secret": secret})[2]
print("peer: the bench-admin token lives %s s" % token["expires_in"], file=sys.stderr)
print("PEER_TOKEN=" + token["access_token"])
print("PEER_USERS=" + ",".join(ids))
'

do_start() {
  if [[ -f "$STATE/keycloak.pid" ]] && alive "$(cat "$STATE/keycloak.pid")"; then
    echo "peer: already running from $STATE (pid $(cat "$STATE/keycloak.pid")); run '$0 stop $STATE' first" >&2
    exit 1
  fi
  do_stop 2>/dev/null # leftovers of a run that was not stopped (dead processes, the old copy)
  local port
  for port in "$HTTP_PORT" "$MGMT_PORT" "$SMTP_PORT"; do
    if port_answers "$port"; then
      echo "peer: port $port is taken; set PEER_HTTP_PORT, PEER_MGMT_PORT or PEER_SMTP_PORT" >&2
      exit 1
    fi
  done
  local java_home dist python
  java_home="$(find_java_home)"
  dist="$("$ROOT/scripts/tools.sh" keycloak)"
  python="$("$ROOT/scripts/tools.sh" aiosmtpd)"
  # From here on, a start that does not finish (a failed step, Ctrl-C) stops what it started.
  START_FINISHED=""
  trap '[[ -n "${START_FINISHED:-}" ]] || { echo "peer: start did not finish: stopping what it started" >&2; do_stop; }' EXIT
  rm -f "$STATE"/{peer.env,keycloak.log,keycloak-start-ms,smtp.log,smtp.count,smtp.last.eml}

  # The sink first, so that Keycloak's first mail finds it.
  setsid "$python" -c "$SINK_PY" 127.0.0.1 "$SMTP_PORT" "$STATE" >"$STATE/smtp.log" 2>&1 </dev/null &
  echo $! >"$STATE/smtp.pid"
  for _ in $(seq 1 200); do
    port_answers "$SMTP_PORT" && break
    alive "$(cat "$STATE/smtp.pid")" || { echo "peer: the SMTP sink exited:" >&2; cat "$STATE/smtp.log" >&2; exit 1; }
    sleep 0.05
  done
  port_answers "$SMTP_PORT" || { echo "peer: the SMTP sink did not answer on $SMTP_PORT" >&2; exit 1; }

  # Keycloak keeps its data (H2 database, tmp) under its home folder, and start-dev re-augments
  # the distribution there (lib/quarkus): each run works on a copy of its own, so the tool cache
  # stays as installed and every run starts from an empty database.
  cp -a "$dist" "$STATE/keycloak"
  rm -f "$STATE/keycloak/.done"

  local admin_password began wrapper
  admin_password="$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')"
  export KC_BOOTSTRAP_ADMIN_USERNAME=admin KC_BOOTSTRAP_ADMIN_PASSWORD="$admin_password"
  local extra=()
  read -ra extra <<<"${PEER_KC_ARGS:-}"
  began="$(now_ms)"
  # setsid: a session (and process group) of its own, so stop reaches kc.sh and its JVM alike.
  JAVA_HOME="$java_home" setsid "$STATE/keycloak/bin/kc.sh" start-dev \
    --http-host=127.0.0.1 --http-port="$HTTP_PORT" --http-management-port="$MGMT_PORT" "${extra[@]}" \
    >"$STATE/keycloak.log" 2>&1 </dev/null &
  wrapper=$!
  echo "$wrapper" >"$STATE/keycloak.pgid"
  echo "$wrapper" >"$STATE/keycloak.pid"
  local url="http://127.0.0.1:$HTTP_PORT" up=""
  for _ in $(seq 1 $((START_SECONDS * 20))); do
    if [[ "$(curl -s -o /dev/null -w '%{http_code}' "$url/realms/master" 2>/dev/null)" == 200 ]]; then up=1; break; fi
    if ! kill -0 -- "-$wrapper" 2>/dev/null; then break; fi
    sleep 0.05
  done
  local start_ms=$(($(now_ms) - began))
  if [[ -z "$up" ]]; then
    echo "peer: Keycloak did not answer on $url within $START_SECONDS s; the end of its log:" >&2
    tail -n 30 "$STATE/keycloak.log" >&2
    exit 1
  fi
  echo "$start_ms" >"$STATE/keycloak-start-ms"

  # kc.sh runs java as its child, and when start-dev had to re-augment (exit code 10) execs a
  # second java in its own place: the JVM is the wrapper itself or its child running $java_home's
  # java. That PID is recorded (its /proc entries are what a benchmark reads).
  local java_bin pid jvm=""
  java_bin="$(readlink -f "$java_home/bin/java")"
  for pid in "$wrapper" $(pgrep -P "$wrapper" || true); do
    if [[ "$(readlink -f "/proc/$pid/exe" 2>/dev/null)" == "$java_bin" ]]; then jvm="$pid"; break; fi
  done
  [[ -n "$jvm" ]] || { echo "peer: Keycloak answers but no JVM under pid $wrapper" >&2; exit 1; }
  echo "$jvm" >"$STATE/keycloak.pid"
  echo "peer: Keycloak $KEYCLOAK_VERSION up on $url in $start_ms ms (JVM pid $jvm)" >&2

  local setup java_version
  setup="$(python3 -c "$SETUP_PY" "$url" "$REALM" "$CLIENT" "$SMTP_PORT" "$USER_COUNT")"
  java_version="$("$java_home/bin/java" -version 2>&1 | head -n 1)"
  {
    echo "PEER_URL=$url"
    echo "PEER_REALM=$REALM"
    grep '^PEER_TOKEN=' <<<"$setup"
    grep '^PEER_USERS=' <<<"$setup"
    echo "PEER_PID=$jvm"
    echo "PEER_SMTP_PID=$(cat "$STATE/smtp.pid")"
    echo "PEER_START_MS=$start_ms"
    echo "PEER_AUGMENT_MS=$(sed -n 's/.*Quarkus augmentation completed in \([0-9]*\)ms.*/\1/p' "$STATE/keycloak.log" | head -n 1)"
    echo "PEER_VERSION=$KEYCLOAK_VERSION"
    echo "PEER_JAVA='$java_version'" # single-quoted: sourceable, and easy to strip
  } >"$STATE/peer.env.tmp"
  mv "$STATE/peer.env.tmp" "$STATE/peer.env"

  # One call as the benchmark makes it: 204, and one mail more at the sink.
  local token user status before after
  token="$(sed -n 's/^PEER_TOKEN=//p' "$STATE/peer.env")"
  user="$(sed -n 's/^PEER_USERS=//p' "$STATE/peer.env" | cut -d, -f1)"
  before="$(cat "$STATE/smtp.count" 2>/dev/null || echo 0)"
  # The token in a file, not on curl's command line (which ps shows to every user).
  printf 'Authorization: Bearer %s\nContent-Type: application/json\n' "$token" >"$STATE/check.headers"
  status="$(curl -s -o "$STATE/check.body" -w '%{http_code}' -X PUT \
    -H @"$STATE/check.headers" \
    --data '["webauthn-register-passwordless"]' \
    "$url/admin/realms/$REALM/users/$user/execute-actions-email")"
  after="$(cat "$STATE/smtp.count" 2>/dev/null || echo 0)"
  if [[ "$status" != 204 || "$after" != $((before + 1)) ]]; then
    echo "peer: check call answered $status (want 204), sink has $after mails (want $((before + 1))): $(cat "$STATE/check.body")" >&2
    exit 1
  fi
  rm -f "$STATE/check.body" "$STATE/check.headers"
  START_FINISHED=1
  echo "peer: check: execute-actions-email answered 204 and the sink got the mail; $STATE/peer.env written" >&2
}

case "$COMMAND" in
  start) do_start ;;
  stop) do_stop ;;
  *) usage ;;
esac
