# shellcheck shell=bash
# Helpers shared by scripts/test-env and scripts/harness/*. Sourced, never run.

# Debian's python has aiosmtpd, dbus and gi; a python3 earlier on PATH (pyenv) may not.
PY=/usr/bin/python3
HARNESS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)

log() { printf '%s\n' "$*" >&2; }

# Seconds since $1 (an $EPOCHREALTIME value), 3 decimals.
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }'; }

# Process state letter from /proc ("" when gone). A zombie ("Z") counts as dead: PID 1 here may never reap
# orphans, so kill -0 would report a finished daemon as alive.
proc_state() { awk '/^State:/ { print $2; exit }' "/proc/$1/status" 2>/dev/null || true; }
proc_alive() { local s; s=$(proc_state "$1"); [[ -n $s && $s != Z ]]; }

# Start time in clock ticks since boot (field 22 of /proc/PID/stat; parsed after the last ")" because the
# command name may contain spaces). With the pid it identifies one process even if the pid is reused, and
# it does not change across exec.
proc_starttime() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  # shellcheck disable=SC2086 # split into fields on purpose (no glob characters after the ")")
  set -- $stat
  printf '%s\n' "${20}"
}

# The process recorded as PID/STARTTIME, if it is still that process and alive.
proc_same() { [[ $(proc_starttime "$1" 2>/dev/null) == "$2" ]] && proc_alive "$1"; }

# Every live descendant of a pid (children of children...), from the ppid field of /proc/*/stat.
proc_descendants() {
  local root=$1 stat rest pid ppid
  declare -A kids=()
  for stat in /proc/[0-9]*/stat; do
    rest=$(cat "$stat" 2>/dev/null) || continue
    pid=${rest%% *}
    rest=${rest##*) }
    ppid=${rest#* }; ppid=${ppid%% *}
    kids[$ppid]+="$pid "
  done
  local queue=("$root") p c
  while ((${#queue[@]})); do
    p=${queue[0]}; queue=("${queue[@]:1}")
    for c in ${kids[$p]:-}; do
      proc_alive "$c" && printf '%s\n' "$c"
      queue+=("$c")
    done
  done
}

# record_pid DIR LABEL PID: remember a process we started (stop kills exactly these).
record_pid() {
  local st
  st=$(proc_starttime "$3") || { log "process $2 (pid $3) exited right after start"; return 1; }
  printf '%s %s %s\n' "$2" "$3" "$st" >>"$1/pids"
}

# wait_gone SECONDS PID...: wait until none of the pids is alive; return 1 if some still are.
wait_gone() {
  local deadline pid left
  deadline=$(awk -v n="$EPOCHREALTIME" -v s="$1" 'BEGIN { printf "%.3f", n + s }'); shift
  while :; do
    left=0
    for pid in "$@"; do proc_alive "$pid" && left=1; done
    ((left)) || return 0
    awk -v n="$EPOCHREALTIME" -v d="$deadline" 'BEGIN { exit !(n >= d) }' && return 1
    sleep 0.02
  done
}

# Environment for anything that talks to the test keyring: the env file written by start.
load_env() {
  [[ -f $1/env ]] || { log "$1/env missing: run scripts/test-env start $1 first"; exit 1; }
  # shellcheck disable=SC1091
  . "$1/env"
}

# keyring_start DIR: start gnome-keyring-daemon on the private bus, unlocking (creating on first run) the
# login collection with the throwaway master password in DIR/keyring-master. The password reaches the daemon
# on stdin only. It runs in the foreground (in the background of this shell, in a session of its own), not
# with --daemonize: a daemonized gnome-keyring logs only to syslog, which a test machine may lack, and its
# criticals — and the g_error it aborts with — are what tells why it died (DIR/logs/gnome-keyring.log).
# Poll ReadAlias("default") until it answers the login collection (the bus has no service files: an early
# call gets ServiceUnknown instead of activating a second daemon). The daemon's pid comes from the bus.
# Closes every descriptor above 2 in the current (sub)shell.
close_inherited_fds() {
  local fd
  for fd in /proc/$BASHPID/fd/*; do
    fd=${fd##*/}
    ((fd > 2)) && eval "exec $fd>&-" 2>/dev/null
  done
  return 0
}

keyring_start() {
  local dir=$1 pid started
  (
    load_env "$dir"
    unset GNOME_KEYRING_CONTROL SSH_AUTH_SOCK  # never reach a keyring daemon outside DIR
    # The daemon outlives this script: it must not inherit any descriptor of our caller's (Foundation's
    # Process, in the Swift tests, learns that a child exited when a socket shared with it closes).
    close_inherited_fds
    exec setsid gnome-keyring-daemon --unlock --components=secrets --foreground \
      <"$dir/keyring-master" >>"$dir/logs/gnome-keyring.log" 2>&1
  ) &
  started=$!
  if ! pid=$(load_env "$dir"; "$PY" "$HARNESS_DIR/secret-service.py" wait "${KEYRING_DEADLINE:-10}"); then
    kill -KILL "$started" 2>/dev/null || true
    log "gnome-keyring-daemon failed to start: $(tail -n 3 "$dir/logs/gnome-keyring.log" 2>/dev/null | tr '\n' ' ')"
    return 1
  fi
  record_pid "$dir" gnome-keyring-daemon "$pid"
}

# The recorded pid of LABEL, if that process is still alive.
recorded_pid() {
  local label pid st
  [[ -f $1/pids ]] || return 1
  while read -r label pid st; do
    if [[ $label == "$2" ]] && proc_same "$pid" "$st"; then printf '%s\n' "$pid"; return 0; fi
  done <"$1/pids"
  return 1
}
