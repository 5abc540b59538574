# Sourced by scripts/sam-local.sh (its outer modes): what it changes on the machine, and the
# undoing of it. The engine (its own dockerd, the machine's, or DOCKER_HOST's), the firewall
# rule guarding the stack on the bridge's address, binfmt_misc for arm64; each change is
# recorded in RUN_DIR before it is made, so that the end of the run, or the next run after a
# kill, undoes it. Needs ROOT, RUN_DIR, MARK, TOOLS_DIR, PASSKEY_STACK_DIR, ENGINE_LOG,
# DYNAMODB_PORT, SES_PORT, ARCH and HOST_ARCH; defines functions and four variables only.

INNER=""
# Where the machine's own engine, ip_forward and br_netfilter's switches are (variables, so that
# scripts/test_sam_local_machine.py can point them at files of its own).
MACHINE_SOCKET=/var/run/docker.sock
IP_FORWARD=/proc/sys/net/ipv4/ip_forward
BRIDGE_SYSCTLS=/proc/sys/net/bridge

# Undoes what the record in RUN_DIR says this script (this run or an interrupted one) changed:
# the stack's firewall rule (whichever engine ran), the engine and everything started from its
# run folder, the docker0 bridge it made, the rules dockerd added (each rule and chain that
# names Docker's chains or docker0 and was not there before; other changes made meanwhile
# stay), the FORWARD policy, ip_forward and br_netfilter's switches, binfmt_misc. In a
# subshell without set -e, so one failing step does not skip the rest, nor end the caller.
undo_machine() (
  set +e
  [[ -f "$MARK" ]] || exit 0
  local pid before="$RUN_DIR/iptables.before" table line chain chains policy guard name value
  # The inner session (its start-api too) and the stack, should a kill have left them.
  pid="$(cat "$RUN_DIR/inner.pid" 2>/dev/null)"
  if [[ -n "$pid" ]]; then
    kill -KILL -- "-$pid" 2>/dev/null
    for pid in $(ps -e -o pid=,sid= | awk -v sid="$pid" '$2 == sid {print $1}'); do kill -KILL "$pid" 2>/dev/null; done
  fi
  "$ROOT/scripts/stack.sh" down 7>&-
  if [[ -f "$RUN_DIR/guard.rule" ]]; then
    mapfile -t guard < "$RUN_DIR/guard.rule"
    iptables -D "${guard[@]}" 2>/dev/null && echo "sam-local: the stack's firewall rule is removed" >&2
  fi
  pid="$(cat "$RUN_DIR/engine.pid" 2>/dev/null)"
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    echo "sam-local: dockerd stopped (pid $pid)" >&2
  fi
  # containerd and the shims have sessions of their own; they name the run folder.
  for pid in $(grep -lzF -- "$RUN_DIR/" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3); do
    [[ "$pid" != "$$" ]] && kill -KILL "$pid" 2>/dev/null
  done
  awk -v dir="$RUN_DIR/" 'index($2, dir) == 1 {print $2}' /proc/mounts | sort -r | xargs -r -n1 umount -l
  if [[ -f "$RUN_DIR/made-docker0" ]] && ip link show docker0 >/dev/null 2>&1; then ip link delete docker0; fi
  if [[ -f "$before" ]]; then
    for table in filter nat; do
      iptables-save -t "$table" | grep -E '^-A .*(DOCKER|docker0)' | grep -vxF -f <(grep '^-A ' "$before") |
        while read -r line; do
          read -ra rule <<<"${line#-A }"
          iptables -t "$table" -D "${rule[@]}"
        done
      chains="$(iptables-save -t "$table" | sed -n 's/^:\(DOCKER[A-Za-z0-9_-]*\) .*/\1/p' | grep -vxF -f <(sed -n 's/^:\([^ ]*\) .*/\1/p' "$before"))"
      for chain in $chains; do iptables -t "$table" -F "$chain"; done
      for chain in $chains; do iptables -t "$table" -X "$chain"; done
    done
    policy="$(awk '$0 == "*filter" {on = 1} on && /^:FORWARD / {print $2; exit}' "$before")"
    iptables -P FORWARD "${policy:-ACCEPT}"
    echo "sam-local: docker0, Docker's iptables rules and the FORWARD policy are as before" >&2
  fi
  if [[ -f "$RUN_DIR/ip_forward.before" ]]; then cat "$RUN_DIR/ip_forward.before" > "$IP_FORWARD"; fi
  if [[ -f "$RUN_DIR/bridge-sysctls.before" ]]; then
    while read -r name value; do echo "$value" > "$BRIDGE_SYSCTLS/$name"; done < "$RUN_DIR/bridge-sysctls.before"
    echo "sam-local: net.bridge.bridge-nf-* are as before" >&2
  elif [[ -f "$RUN_DIR/no-br-netfilter" && -d "$BRIDGE_SYSCTLS" ]]; then
    # dockerd loaded it: unloaded again unless something else has come to use it meanwhile.
    if modprobe -r br_netfilter 2>/dev/null; then
      echo "sam-local: br_netfilter, which dockerd loaded, is unloaded again" >&2
    else
      echo "sam-local: br_netfilter, which dockerd loaded, is in use and stays loaded" >&2
    fi
  fi
  if [[ -f "$RUN_DIR/registered-qemu" ]]; then echo -1 > /proc/sys/fs/binfmt_misc/qemu-aarch64; fi
  if [[ -f "$RUN_DIR/mounted-binfmt" ]]; then umount /proc/sys/fs/binfmt_misc; fi
  if [[ -f "$RUN_DIR/registered-qemu" || -f "$RUN_DIR/mounted-binfmt" ]]; then echo "sam-local: binfmt_misc is as before" >&2; fi
  rm -rf --one-file-system "$RUN_DIR/exec"
  rm -f "$RUN_DIR"/{inner.pid,engine.pid,dockerd.pid,docker.sock,made-docker0,iptables.before,ip_forward.before}
  rm -f "$RUN_DIR"/{guard.rule,bridge-sysctls.before,no-br-netfilter,registered-qemu,mounted-binfmt}
  rm -f "$MARK"
  rmdir "$RUN_DIR"
)

# The EXIT trap: the inner run (its own session, so that TERM reaches it at once) and its stack
# first, then the machine.
restore_machine() {
  local status=$?
  # make passes its TERM on, so a second one arrives while this runs: it must not cut it short.
  trap '' INT TERM
  set +e
  if [[ -n "$INNER" ]] && kill -0 "$INNER" 2>/dev/null; then
    kill -TERM -- "-$INNER" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$INNER" 2>/dev/null || break; sleep 0.1; done
  fi
  undo_machine
  exit "$status"
}

# RUN_DIR made and marked as this script's; what an interrupted run left there undone first.
run_dir_up() {
  # Root for the firewall rule that guards the stack whichever engine runs (guard_stack), and
  # for undoing what an interrupted run changed.
  if [[ "$(id -u)" != 0 ]]; then
    echo "sam-local: needs root: an iptables rule keeps the stack it runs on the Docker bridge's" \
      "address (the mailbox holds the links' codes) to the bridge's containers and this host" >&2
    exit 1
  fi
  if [[ -f "$MARK" ]]; then
    echo "sam-local: undoing what an interrupted run left ($RUN_DIR)" >&2
    undo_machine
  fi
  mkdir -p "$RUN_DIR"
  if [[ -n "$(ls -A "$RUN_DIR")" ]]; then
    echo "sam-local: $RUN_DIR holds files that are not this script's: set SAM_LOCAL_RUN_DIR to another folder" >&2
    exit 1
  fi
  touch "$MARK"
}

engine_up() {
  if [[ -n "${DOCKER_HOST:-}" ]]; then
    docker info >/dev/null 2>&1 || { echo "sam-local: no Docker engine answers at DOCKER_HOST=$DOCKER_HOST" >&2; exit 1; }
    echo "sam-local: using the engine at DOCKER_HOST=$DOCKER_HOST" >&2
    return
  fi
  "$ROOT/scripts/tools.sh" docker >/dev/null
  # The machine's own engine (where systemd starts docker.io's service, also on install): a
  # second one would fight it over the bridge and the firewall, so it is used as it is.
  if [[ -S "$MACHINE_SOCKET" ]] && docker -H "unix://$MACHINE_SOCKET" info >/dev/null 2>&1; then
    export DOCKER_HOST="unix://$MACHINE_SOCKET"
    echo "sam-local: using the engine already running at $DOCKER_HOST (nothing is started or stopped)" >&2
    return
  fi
  iptables-save > "$RUN_DIR/iptables.before"
  cat "$IP_FORWARD" > "$RUN_DIR/ip_forward.before"
  record_bridge_sysctls
  ip link show docker0 >/dev/null 2>&1 || touch "$RUN_DIR/made-docker0"
  mkdir -p "$PASSKEY_STACK_DIR"
  setsid dockerd --data-root "$TOOLS_DIR/docker" --exec-root "$RUN_DIR/exec" \
    --pidfile "$RUN_DIR/dockerd.pid" -H "unix://$RUN_DIR/docker.sock" --userland-proxy=false \
    >"$ENGINE_LOG" 2>&1 </dev/null 7>&- &
  # setsid execs dockerd: $! is its PID.
  echo $! > "$RUN_DIR/engine.pid"
  export DOCKER_HOST="unix://$RUN_DIR/docker.sock"
  for _ in $(seq 1 300); do
    if docker info >/dev/null 2>&1; then
      echo "sam-local: dockerd up (pid $(cat "$RUN_DIR/engine.pid"), log $ENGINE_LOG)" >&2
      # Containers an interrupted run left behind (the images stay).
      docker container prune --force >/dev/null
      return
    fi
    kill -0 "$(cat "$RUN_DIR/engine.pid")" 2>/dev/null || break
    sleep 0.1
  done
  echo "sam-local: dockerd did not come up; the end of $ENGINE_LOG:" >&2
  tail -n 20 "$ENGINE_LOG" >&2
  exit 1
}

# dockerd loads br_netfilter and turns its bridge-nf-call-iptables and -ip6tables on (bridged
# traffic then passes the host's iptables): their values before, or that the module was not
# loaded, for undo_machine.
record_bridge_sysctls() {
  local file
  if [[ ! -d "$BRIDGE_SYSCTLS" ]]; then
    touch "$RUN_DIR/no-br-netfilter"
    return
  fi
  for file in "$BRIDGE_SYSCTLS"/bridge-nf-*; do
    if [[ -f "$file" ]]; then echo "$(basename "$file") $(cat "$file")"; fi
  done > "$RUN_DIR/bridge-sysctls.before"
}

# The stack listens on the bridge's address, which any interface could reach: only the bridge's
# containers and the host itself may, whichever engine runs (the mailbox holds the links'
# codes). The rule is recorded before it is added, so that undo_machine removes it, after an
# interrupted run too.
guard_stack() { # GATEWAY
  local bridge rule
  bridge="$(ip -o -4 addr show to "$1" | awk '{print $2; exit}')"
  if [[ -z "$bridge" ]]; then
    echo "sam-local: no interface of this machine has the engine's bridge address $1: the engine" \
      "(DOCKER_HOST) must run on this machine" >&2
    exit 1
  fi
  rule=(INPUT -d "$1" -p tcp -m multiport --dports "$DYNAMODB_PORT,$SES_PORT" ! -i "$bridge"
    -m addrtype ! --src-type LOCAL -j DROP)
  printf '%s\n' "${rule[@]}" > "$RUN_DIR/guard.rule"
  iptables -I "${rule[@]}"
  echo "sam-local: only $bridge's containers and this host reach $1:$DYNAMODB_PORT,$SES_PORT" >&2
}

binfmt_up() {
  [[ "$ARCH" == "$HOST_ARCH" ]] && return
  "$ROOT/scripts/tools.sh" qemu >/dev/null
  if ! mountpoint -q /proc/sys/fs/binfmt_misc; then
    touch "$RUN_DIR/mounted-binfmt"
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  fi
  local entry=/proc/sys/fs/binfmt_misc/qemu-aarch64
  if [[ -e "$entry" ]]; then
    # Containers see the host's interpreter only when the kernel holds it open (flag F).
    grep -q '^flags:.*F' "$entry" || { echo "sam-local: $entry is registered without the F flag, so" \
      "containers cannot use it; remove it (echo -1 > $entry) and run again" >&2; exit 1; }
    return
  fi
  touch "$RUN_DIR/registered-qemu"
  # Debian's qemu-aarch64 magic and mask (/usr/share/binfmts/qemu-aarch64).
  printf '%s' ':qemu-aarch64:M::\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:/usr/bin/qemu-aarch64-static:F' \
    > /proc/sys/fs/binfmt_misc/register
}

