#!/usr/bin/env bash
# idle-memory.sh: where an idle connection's memory goes. It starts a chat
# server with its profiling endpoints, has two load processes hold
# CONNS idle connections between them (logged in with resume tokens, so
# no password hashing), and prints the server's RSS before and after, the
# Go runtime's memory statistics before and after, and the top of a heap
# profile of what the connections hold.
#
# Usage: chatserver/loadtest/idle-memory.sh
# Environment:
#   CONNS        connections held (default 18000; needs ulimit -n above it)
#   SERVER_ENV   environment for the server, e.g. "GOGC=100" or
#                "GODEBUG=memprofilerate=64" (a finer heap profile; it
#                adds its own buckets to the runtime's other memory)
#   WORK         working directory (default a new temporary one)
#   SETTLE       seconds between the last login and the readings (default
#                20, as compare.sh's IDLE_SETTLE: sooner, a login wave's
#                presence frames and read buffers are still held)
set -euo pipefail
cd "$(dirname "$0")/../.."
CONNS=${CONNS:-18000}
SETTLE=${SETTLE:-20}
[[ $SETTLE =~ ^[0-9]+$ ]] || { echo "SETTLE must be a whole number of seconds, not '$SETTLE'"; exit 1; }
WORK=${WORK:-$(mktemp -d)}
half=$((CONNS / 2))
ulimit -n 20000
go build -o "$WORK/bin/" ./chatserver ./chatserver/loadtest
data=$WORK/data
addr=127.0.0.1:7950
pprof=127.0.0.1:7951
server() {
	# A server of an earlier run still on the ports would answer for this one.
	if curl -sf -o /dev/null "http://$pprof/debug/pprof/"; then echo "something already serves $pprof"; exit 1; fi
	env ${SERVER_ENV:-} "$WORK/bin/chatserver" -addr $addr -http "" -irc "" -irc-tls "" -data "$data" -rate 1000000 -burst 1000000 \
		-hash-memory 64 -login-rate 0 -register-rate 0 -log-level warn -pprof $pprof 2>"$WORK/server.log" &
	SP=$!
	until curl -sf -o /dev/null "http://$pprof/debug/pprof/"; do
		kill -0 $SP 2>/dev/null || { echo "the server failed:"; tail -3 "$WORK/server.log"; exit 1; }
		sleep 0.2
	done
}
memstats() { curl -s "http://$pprof/debug/pprof/heap?debug=1" | grep -E '^# (Sys|HeapAlloc|HeapInuse|HeapIdle|HeapReleased|Stack|MSpan|GCSys|OtherSys|NumGC) '; }
rss() { awk '/VmRSS/{print $2}' /proc/$SP/status; }
# outside: RSS less what the Go runtime has mapped and not returned (Sys -
# HeapReleased), in KB: the binary's pages, thread stacks and SQLite's own
# allocator (its page cache), which the runtime does not count. Sys also
# counts memory mapped but never touched, so this is a lower bound.
# It reads memstats' lines, taken at the same time as the RSS.
outside() { # rss-KB memstats-lines
	awk -v r="$1" '/^# Sys = /{s=$4} /^# HeapReleased = /{h=$4} END{printf "%d", r - (s - h) / 1024}' <<<"$2"
}
# A descriptor can close while find reads the list (a parked connection
# sheds Go's socket for a duplicate of it), which find reports and is
# not an error here.
sockets() { { find /proc/$SP/fd -lname 'socket:*' 2>/dev/null || true; } | wc -l; }

# Register the users once and keep their resume tokens.
server
"$WORK/bin/loadtest" -server $addr -scenario idle -prefix idle -tokens "$data/tokens1" -conns $half -setup-only >/dev/null
"$WORK/bin/loadtest" -server $addr -scenario idle -prefix idle -tokens "$data/tokens2" -first $half -conns $half -setup-only >/dev/null
kill $SP; wait $SP || true

# A fresh server, then the connections.
server
# The server and the load processes are stopped, and waited for, on the
# way out, so that the next run finds the ports free.
trap 'kill $(jobs -p) 2>/dev/null || true; wait' EXIT
rss0=$(rss)
stats0=$(memstats)
out0=$(outside "$rss0" "$stats0")
echo "before the connections (RSS $rss0 KB, $out0 KB of it outside the Go runtime's memory):"; echo "$stats0"
for k in 1 2; do
	first=$(((k - 1) * half))
	# An earlier run's log would say "holding" before this one has started.
	rm -f "$WORK/load$k.log" "$WORK/load$k.out"
	"$WORK/bin/loadtest" -server $addr -scenario idle -prefix idle -tokens "$data/tokens$k" -first $first -conns $half \
		-hold 24h >"$WORK/load$k.out" 2>"$WORK/load$k.log" &
	until grep -qs '^holding' "$WORK/load$k.log"; do
		kill -0 $! 2>/dev/null || { echo "load process $k failed:"; tail -3 "$WORK/load$k.log"; exit 1; }
		sleep 1
	done
done
sleep "$SETTLE"
# A count taken while descriptors are swapped can miss one: count again.
for try in 1 2 3 4 5; do
	open=$(sockets)
	[ "$open" -ge "$CONNS" ] && break
	sleep 1
done
if [ "$open" -lt "$CONNS" ]; then echo "the server has only $open sockets open, not $CONNS"; exit 1; fi
rss1=$(rss)
stats1=$(memstats)
out1=$(outside "$rss1" "$stats1")
echo "outside the Go runtime's memory: $out0 KB before, $out1 KB holding, $(echo "scale=3; ($out1 - $out0) / $CONNS" | bc) KB per connection"
echo "holding $CONNS connections (RSS $rss1 KB, $(echo "scale=3; ($rss1 - $rss0) / $CONNS" | bc) KB per connection; the server has $open sockets open):"; echo "$stats1"
curl -s -o "$WORK/heap.pb.gz" "http://$pprof/debug/pprof/heap"
go tool pprof -sample_index=inuse_space -top "$WORK/heap.pb.gz" 2>/dev/null | sed -n '5,25p'
echo "results in $WORK"
