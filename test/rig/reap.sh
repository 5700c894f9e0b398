#!/bin/sh
# usage: reap.sh DIR [PID]
# Cleans up a test rig directory: first waits for PID (if given) to exit -- the watchdog mode, so servers never
# outlive the process that started them, even if it is SIGKILLed -- then SIGKILLs the process group of every
# server that has a pid file under DIR and runs inside DIR (its cwd; guards against stale pid files), and
# removes DIR unless MYDB_RIG_KEEP=1.
dir=$1
watched=$2
if [ -n "$watched" ]; then
  while kill -0 "$watched" 2>/dev/null && [ -d "$dir" ]; do sleep 0.5; done
fi
[ -d "$dir" ] || exit 0
find "$dir" -type f -name '*.pid' 2>/dev/null | while read -r pidfile; do
  pid=$(head -n 1 "$pidfile" 2>/dev/null)
  case "$pid" in '' | *[!0-9]*) continue ;; esac
  case "$(readlink "/proc/$pid/cwd" 2>/dev/null)" in "$dir"/*) ;; *) continue ;; esac
  kill -9 "-$pid" 2>/dev/null || kill -9 "$pid" 2>/dev/null
done
[ "$MYDB_RIG_KEEP" = 1 ] || rm -rf "$dir"
