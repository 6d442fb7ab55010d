#!/usr/bin/env bash
#
# sse-memory.sh: the file server's memory with many event-stream
# subscribers that replay its backlog (see sseload/main.go).
#
# Usage: fileserver/bench/sse-memory.sh [sseload flags]
#
# It builds the file server and sseload, starts the server on a free
# loopback port with a fresh secret ($PARLEY_SECRET) and temporary
# folders, and runs sseload against it, which prints the server's VmRSS
# and VmHWM before and after. Flags go to sseload (-n, -events, -users,
# -read). The server runs with -max-streams 0 unless SERVER_FLAGS says
# otherwise, so that every subscriber is let in.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
cd "$top"
go build -o "$work/fileserver" ./fileserver
go build -o "$work/sseload" ./fileserver/bench/sseload
ulimit -n 8192
export PARLEY_SECRET=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
port=$(( 20000 + RANDOM % 20000 ))
"$work/fileserver" -addr "127.0.0.1:$port" -dir "$work/files" -state "$work/state" \
	-log-level warn ${SERVER_FLAGS--max-streams 0} 2>"$work/server.log" &
pid=$!
for _ in $(seq 50); do
	curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
	sleep 0.1
done
"$work/sseload" -url "http://127.0.0.1:$port" -pid "$pid" "$@"
