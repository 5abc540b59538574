# Sourced by the stack scripts. Each local process runs in its own session (so stopping its
# process group stops its children), is tracked by a PID file in $STATE, and is stopped by
# that PID, never by name.

port_answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

running() { # NAME: its PID file names a live process
  local pid_file="$STATE/$1.pid"
  [[ -f "$pid_file" ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null
}

start() { # NAME PORT SECONDS COMMAND...: start, wait until PORT answers; 1 when already running
  local name="$1" port="$2" seconds="$3"; shift 3
  if running "$name"; then return 1; fi
  if port_answers "$port"; then
    echo "$name: port $port is taken by a process these scripts did not start; set ${name^^}_PORT or stop it" >&2
    exit 1
  fi
  setsid "$@" >"$STATE/$name.log" 2>&1 < /dev/null &
  echo $! > "$STATE/$name.pid"
  local tries=$((seconds * 20))
  for _ in $(seq 1 "$tries"); do
    if port_answers "$port"; then echo "$name: up on 127.0.0.1:$port (pid $(cat "$STATE/$name.pid"))" >&2; return 0; fi
    if ! running "$name"; then echo "$name: exited; its log:" >&2; cat "$STATE/$name.log" >&2; exit 1; fi
    sleep 0.05
  done
  echo "$name: no answer on port $port within $seconds s; its log:" >&2; cat "$STATE/$name.log" >&2
  exit 1
}

stop() { # NAME
  local pid_file="$STATE/$1.pid"
  [[ -f "$pid_file" ]] || return 0
  local pid; pid="$(cat "$pid_file")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    echo "$1: stopped (pid $pid)" >&2
  fi
  rm -f "$pid_file"
}
