#!/usr/bin/env bash
# Measures cluster mode against one server: messages stored per second
# (the history scenario) and delivery latency at a fixed rate (fan-out),
# for one server on SQLite, one on PostgreSQL (-db), and two nodes of a
# cluster on NATS and PostgreSQL, with the load on the writer node and on
# the other node (whose every message goes through the bus twice: to the
# writer and back). The configurations are run in turn, ROUNDS times, so
# that the machine's drift falls on all of them.
#
#   bash chatserver/loadtest/cluster.sh
#
# Needs Debian's postgresql and nats-server (installed if absent).
# Environment: ROUNDS (2), DURATION (10 s), HIST_SENDERS (50),
# FAN_CONNS (200), FAN_SENDERS (10), FAN_RATE (20 messages/s per sender).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
WORK=$(mktemp -d)
# shellcheck source=benchlib.sh
source "$here/benchlib.sh"

ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-10}
HIST_SENDERS=${HIST_SENDERS:-50}
FAN_CONNS=${FAN_CONNS:-200}
FAN_SENDERS=${FAN_SENDERS:-10}
FAN_RATE=${FAN_RATE:-20}

compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || apt_install postgresql
command -v nats-server >/dev/null || apt_install nats-server
pgbin=$(dirname "$(compgen -G '/usr/lib/postgresql/*/bin/initdb' | sort -V | tail -n 1)")

log "building"
(cd "$root" && go build -o "$WORK/" ./chatserver ./chatserver/loadtest)
cs=$WORK/chatserver
lt=$WORK/loadtest

# PostgreSQL in the work folder, as the postgres user when run as root.
as_pg=()
if ((EUID == 0)); then
	as_pg=(runuser -u postgres --)
	chown postgres "$WORK"
fi
pgport=$(free_port)
"${as_pg[@]}" "$pgbin/initdb" -D "$WORK/pg" -U parley -A trust -E UTF8 --locale=C --no-sync >"$WORK/initdb.log" 2>&1
"${as_pg[@]}" "$pgbin/postgres" -D "$WORK/pg" -p "$pgport" -k "$WORK" -c listen_addresses=127.0.0.1 >"$WORK/pg.log" 2>&1 &
PIDS+=($!)
wait_listen $! "$pgport" postgres "$WORK/pg.log"
natsport=$(free_port)
nats-server -a 127.0.0.1 -p "$natsport" >"$WORK/nats.log" 2>&1 &
PIDS+=($!)
wait_listen $! "$natsport" nats-server "$WORK/nats.log"
dbn=0
newdb() { # a fresh database's URL
	dbn=$((dbn + 1))
	"${as_pg[@]}" "$pgbin/psql" -q -h 127.0.0.1 -p "$pgport" -U parley -d postgres -c "CREATE DATABASE b$dbn" >/dev/null
	echo "postgres://parley@127.0.0.1:$pgport/b$dbn?sslmode=disable"
}

common=(-rate 1000000 -burst 1000000 -hash-memory 64 -login-rate 0 -register-rate 0 -http "" -irc "" -read-rate 100000)
start_server() { # name port args...: starts a chat server, sets SRV_PID
	local name=$1 port=$2
	shift 2
	"$cs" -addr "127.0.0.1:$port" "${common[@]}" "$@" >"$WORK/$name.log" 2>&1 &
	SRV_PID=$!
	PIDS+=("$SRV_PID")
	wait_listen "$SRV_PID" "$port" "$name" "$WORK/$name.log"
}
wait_writer() { # log file
	local i
	for ((i = 0; i < 300; i++)); do
		grep -q "this node is the cluster's writer" "$1" && return
		sleep 0.1
	done
	die "no writer in $1"
}

measure() { # label port pid [writer pid]: the load on port, whose server is pid
	local label=$1 port=$2 pid=$3 also=() out
	[[ -n ${4:-} ]] && also=(-also-pid "$4")
	for scenario in history fanout; do
		if [[ $scenario == history ]]; then
			out=$("$lt" -server "127.0.0.1:$port" -scenario history -conns "$HIST_SENDERS" -senders "$HIST_SENDERS" -duration "${DURATION}s" -warmup 2s -pid "$pid" "${also[@]}" -json -prefix "h$RANDOM")
		else
			out=$("$lt" -server "127.0.0.1:$port" -scenario fanout -conns "$FAN_CONNS" -senders "$FAN_SENDERS" -rate "$FAN_RATE" -duration "${DURATION}s" -warmup 2s -pid "$pid" "${also[@]}" -json -prefix "f$RANDOM" -room "fan$RANDOM")
		fi
		printf '%s\t%s\t%s\n' "$label" "$scenario" \
			"$(jq -c '{stored_per_sec, p50_ms, p99_ms, delivered_per_sec, cpu_per_delivery_us, writer_cpu_per_delivery_us: .other_cpu_per_delivery_us, errors} | with_entries(select(.value != null))' <<<"$out")"
	done
}

command -v jq >/dev/null || apt_install jq
for ((r = 1; r <= ROUNDS; r++)); do
	log "round $r of $ROUNDS"
	p=$(free_port)
	start_server sqlite "$p" -data "$WORK/sqlite$r"
	measure "one server, SQLite" "$p" "$SRV_PID"
	stop_pid "$SRV_PID"

	p=$(free_port)
	start_server pg "$p" -data "" -db "$(newdb)"
	measure "one server, PostgreSQL" "$p" "$SRV_PID"
	stop_pid "$SRV_PID"

	db=$(newdb)
	pa=$(free_port)
	start_server "node-a$r" "$pa" -db "$db" -nats "nats://127.0.0.1:$natsport" -node "a$r"
	a=$SRV_PID
	wait_writer "$WORK/node-a$r.log"
	pb=$(free_port)
	start_server "node-b$r" "$pb" -db "$db" -nats "nats://127.0.0.1:$natsport" -node "b$r"
	b=$SRV_PID
	measure "cluster, load on the writer" "$pa" "$a"
	measure "cluster, load on the other node" "$pb" "$b" "$a"
	stop_pid "$b"
	stop_pid "$a"
done
