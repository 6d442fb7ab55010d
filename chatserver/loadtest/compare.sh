#!/usr/bin/env bash
#
# compare.sh: Parley against the IRC servers people would otherwise pick,
# in one run, with the same load tool and the same scenarios.
#
# Usage: chatserver/loadtest/compare.sh [ERGO_BINARY]
#
# For each server (Parley built from this checkout, over TCP, as
# parley-ws over WebSocket, and as parley-irc over its IRC door, with the
# same IRC load as the IRC servers; ngircd and InspIRCd from Debian's packages;
# and Ergo if the path to an ergo binary is given) it runs
#
#   a) fan-out: one room of FANOUT_CONNS members, SENDERS of them sending
#      SIZE-byte messages, once for each rate in RATES (messages per second
#      per sender; 0 is flat out; at a fixed rate the senders' messages are
#      spread evenly over the period, or all sent at the same instants when
#      the rate ends in "a"), each measured for DURATION seconds;
#   c) idle: IDLE_CONNS connections logged in and held, spread over load
#      processes of IDLE_PER_PROC connections each,
#
# then prints one table (CPU µs per delivery, deliveries/s, p50/p99
# latency, RSS per idle connection, errors) with each server's ratio to
# Parley, and keeps the raw JSON, logs and a CPU profile of Parley's
# flat-out fan-out run in RESULTS.
#
# Every server gets a fresh start for each scenario, listens on a free
# loopback port, and runs in the foreground with `ulimit -n` raised to the
# hard limit; the IRC servers run as the user nobody when the script runs
# as root. Everything started is stopped on exit.
#
# Missing Debian packages (ngircd, inspircd, jq, curl) are installed with
# apt-get (through sudo when not root). Ergo is never built or downloaded:
# without ERGO_BINARY it is left out, and the script says so.
#
# Environment (defaults in brackets):
#   FANOUT_CONNS   members of the fan-out room [1000]
#   SENDERS        members that send [10]
#   SIZE           message size in bytes [100]
#   RATES          per-sender rates to run, 0 = flat out, "a" after a rate =
#                  all senders at the same instants ["0 40 40a"; set
#                  but empty, RATES="", runs the idle scenario alone]
#                  (40/s × 10 senders × 1000 members ≈ 400k deliveries/s)
#   DURATION       seconds measured per fan-out run [20]
#   WARMUP         seconds of load before measuring [3]
#   IDLE_CONNS     idle connections held [the smallest of 20000, the hard
#                  open-file limit less 2000, and the local port range less
#                  1000]
#   IDLE_PER_PROC  idle connections per load process [9000]
#   IDLE_SETTLE    seconds to let a server settle before reading its RSS
#                  [20: a login wave of 18,000 leaves presence frames in
#                  flight, queue rings and read buffers for several seconds,
#                  and 5 measured that tail rather than idle connections]
#   DIAL_PARALLEL  connections being set up at once per load process [8 for
#                  ngircd, which listens with a backlog of 10, so that more
#                  in flight overflow its accept queue and the kernel resets
#                  some; 1000 for the others, since InspIRCd completes
#                  registrations only on its once-a-second timer]
#   SERVERS        which servers to run ["parley parley-ws parley-irc ngircd inspircd ergo"]
#   RESULTS        where results go [${TMPDIR:-/tmp}/parley-compare-DATE]
#   PARLEY_BIN     a chatserver binary to use instead of building one
#   PARLEY_FLAGS   extra chatserver flags, e.g. "-max-queue 16777216"
#   ERGO_CONFIG    an Ergo config to start from instead of `ergo defaultconfig`
#   KEEP_WORK      set to 1 to keep the temporary directory (configs, data)
#
# Why these idle numbers: a process here may hold at most `ulimit -Hn` open
# files (20000 on the benchmark machine), and the server holds one for each
# connection, so IDLE_CONNS stays 2000 under that to leave the server its
# own files. The load processes have the same limit, so the connections are
# spread over several of them (9000 each by default, which also lets a
# machine with a higher limit hold more than one process could). All
# connections come from 127.0.0.1 to one port, so the local port range
# (/proc/sys/net/ipv4/ip_local_port_range) bounds them too.
#
# A quick check that everything works (about two minutes):
#   FANOUT_CONNS=200 IDLE_CONNS=2000 IDLE_PER_PROC=1000 DURATION=3 WARMUP=1 \
#     IDLE_SETTLE=2 chatserver/loadtest/compare.sh /path/to/ergo
#
# Numbers are only worth comparing on a quiet machine: the script prints
# the load average before and after.

set -euo pipefail

usage() { sed -n '3,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

case "${1:-}" in
-h | --help)
	usage
	exit 0
	;;
esac
if (($# > 1)); then
	usage >&2
	exit 2
fi
# Paths given by the caller are relative to where it was called from.
abspath() { if [[ -n $1 && $1 != /* ]]; then echo "$PWD/$1"; else echo "$1"; fi; }
ERGO_BIN=${1:-}
if [[ -n $ERGO_BIN && $ERGO_BIN != */* && ! -e $ERGO_BIN ]]; then
	ERGO_BIN=$(command -v "$ERGO_BIN" || echo "$ERGO_BIN") # a name on the PATH
fi
ERGO_BIN=$(abspath "$ERGO_BIN")
[[ -z ${RESULTS:-} ]] || RESULTS=$(abspath "$RESULTS")
[[ -z ${PARLEY_BIN:-} ]] || PARLEY_BIN=$(abspath "$PARLEY_BIN")
[[ -z ${ERGO_CONFIG:-} ]] || ERGO_CONFIG=$(abspath "$ERGO_CONFIG")

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# Shared helpers: log, die, apt_install, cleanup, free_port, wait_listen, stop_pid.
# shellcheck source=chatserver/loadtest/benchlib.sh
source "$PWD/chatserver/loadtest/benchlib.sh"
ROOT=$PWD
PATH=$PATH:/usr/sbin:/sbin

FANOUT_CONNS=${FANOUT_CONNS:-1000}
SENDERS=${SENDERS:-10}
SIZE=${SIZE:-100}
RATES=${RATES-"0 40 40a"} # set and empty: idle only
DURATION=${DURATION:-20}
WARMUP=${WARMUP:-3}
IDLE_PER_PROC=${IDLE_PER_PROC:-9000}
IDLE_SETTLE=${IDLE_SETTLE:-20}
DIAL_PARALLEL=${DIAL_PARALLEL:-}
SERVERS=${SERVERS:-"parley parley-ws parley-irc ngircd inspircd ergo"}
RESULTS=${RESULTS:-${TMPDIR:-/tmp}/parley-compare-$(date +%Y%m%d-%H%M%S)}
PARLEY_BIN=${PARLEY_BIN:-}
PARLEY_FLAGS=${PARLEY_FLAGS:-}
ERGO_CONFIG=${ERGO_CONFIG:-}
KEEP_WORK=${KEEP_WORK:-0}


for v in FANOUT_CONNS SENDERS SIZE DURATION WARMUP IDLE_PER_PROC IDLE_SETTLE; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, not '${!v}'"
done
[[ -z $DIAL_PARALLEL || $DIAL_PARALLEL =~ ^[1-9][0-9]*$ ]] || die "DIAL_PARALLEL must be a positive number"
for r in $RATES; do
	[[ $r =~ ^[0-9]+([.][0-9]+)?a?$ ]] || die "RATES must hold numbers, each with an optional a, not '$r'"
	[[ ! $r =~ ^0+([.]0*)?a$ ]] || die "RATES: '$r' is flat out, which has no instants to align"
done
((DURATION >= 2)) || die "DURATION must be at least 2 seconds"

# ---- open files and ports ---------------------------------------------------

hard=$(ulimit -Hn)
[[ $hard == unlimited ]] && hard=1048576
ulimit -n "$hard" 2>/dev/null || true
hard=$(ulimit -n) # what this script and the servers it starts may open
read -r port_lo port_hi </proc/sys/net/ipv4/ip_local_port_range
ports=$((port_hi - port_lo + 1))
idle_max=$((hard - 2000))
((ports - 1000 < idle_max)) && idle_max=$((ports - 1000))
IDLE_CONNS=${IDLE_CONNS:-$((idle_max < 20000 ? idle_max : 20000))}
[[ $IDLE_CONNS =~ ^[0-9]+$ ]] || die "IDLE_CONNS must be a whole number"
if ((IDLE_CONNS > idle_max)); then
	log "IDLE_CONNS=$IDLE_CONNS does not fit (open-file hard limit $hard, $ports local ports); holding $idle_max"
	IDLE_CONNS=$idle_max
fi
((IDLE_PER_PROC > hard - 100)) && IDLE_PER_PROC=$((hard - 100))
((IDLE_PER_PROC > 0 && IDLE_CONNS > 0)) || die "no room for idle connections (open-file hard limit $hard)"

# ---- which servers ----------------------------------------------------------

want() { [[ " $SERVERS " == *" $1 "* ]]; }
if want ergo; then
	if [[ -z $ERGO_BIN ]]; then
		log "no Ergo binary given (pass its path as the argument): Ergo is left out of this run"
		SERVERS=${SERVERS//ergo/}
	elif [[ ! -x $ERGO_BIN ]]; then
		die "Ergo binary $ERGO_BIN is not an executable file"
	else
		if ((EUID == 0)) && ! setpriv --reuid=nobody --regid="$(id -gn nobody)" --clear-groups test -x "$ERGO_BIN"; then
			die "the IRC servers run as nobody, who cannot run $ERGO_BIN: put it where nobody can read it"
		fi
	fi
fi

missing=()
command -v jq >/dev/null || missing+=(jq)
command -v curl >/dev/null || missing+=(curl)
want ngircd && ! command -v ngircd >/dev/null && missing+=(ngircd)
want inspircd && ! command -v inspircd >/dev/null && missing+=(inspircd)
((${#missing[@]} == 0)) || apt_install "${missing[@]}"
command -v go >/dev/null || die "go is needed to build the load tool and Parley"

# The IRC servers refuse or drop root; run them as nobody when we are root.
RUNAS=()
if ((EUID == 0)); then
	RUNAS=(setpriv --reuid=nobody --regid="$(id -gn nobody)" --clear-groups)
fi

# ---- work directory, cleanup ------------------------------------------------

WORK=$(mktemp -d "${TMPDIR:-/tmp}/parley-compare.XXXXXX")
chmod 755 "$WORK"
if ((${#RUNAS[@]} > 0)) && ! "${RUNAS[@]}" test -x "$WORK"; then
	rm -rf "$WORK"
	die "the user nobody cannot reach $WORK; set TMPDIR to a folder it can"
fi
mkdir -p "$RESULTS/logs"


# A directory the servers can write to, whoever they run as.
server_dir() {
	local d=$WORK/$1
	mkdir -p "$d"
	((EUID == 0)) && chown nobody:"$(id -gn nobody)" "$d"
	echo "$d"
}



rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# ---- build ------------------------------------------------------------------

log "building the load tool"
LOADTEST=$WORK/loadtest
go build -o "$LOADTEST" ./chatserver/loadtest
if want parley || want parley-ws || want parley-irc; then
	if [[ -n $PARLEY_BIN ]]; then
		[[ -x $PARLEY_BIN ]] || die "PARLEY_BIN=$PARLEY_BIN is not an executable file"
		PARLEY=$PARLEY_BIN
	else
		log "building Parley's chat server"
		PARLEY=$WORK/chatserver
		go build -o "$PARLEY" ./chatserver
	fi
fi

version() {
	case $1 in
	parley | parley-ws)
		local v
		v=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)
		[[ -n $PARLEY_BIN ]] && v="$(basename "$PARLEY_BIN")"
		if [[ $1 == parley-ws ]]; then echo "Parley $v WS"; else echo "Parley $v"; fi
		;;
	parley-irc) echo "Parley $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown) IRC" ;;
	ngircd) ngircd --version 2>/dev/null | head -1 | sed 's/^ngIRCd \([^-]*\).*/ngircd \1/' ;;
	inspircd) inspircd --version 2>/dev/null | head -1 | sed 's/^InspIRCd-/InspIRCd /' ;;
	ergo) "$ERGO_BIN" --version 2>/dev/null | head -1 | sed 's/^ergo-/Ergo /' ;;
	esac
}

# ---- servers ----------------------------------------------------------------
# start_NAME RUN starts a fresh server and sets SERVER_PID, SERVER_ADDR,
# SERVER_LOG (and PPROF_ADDR for Parley).

# parley_has FLAG: whether the Parley binary knows FLAG (a build from
# before it, compared with this one, may not).
parley_has() { "$PARLEY" -h 2>&1 | grep -q -- "^  $1 "; }

# start_parley RUN [ws]: with ws, the load reaches it over WebSocket on
# its HTTP door, and SERVER_ADDR is that door's address.
start_parley() {
	local dir=$WORK/parley-$1${2:+-ws} port hport pport extra=()
	mkdir -p "$dir"
	port=$(free_port)
	hport=$(free_port)
	pport=$(free_port)
	SERVER_LOG=$RESULTS/logs/parley${2:+-ws}-$1.log
	# -rate/-burst: the per-connection request limit would throttle the
	# senders; -login-rate/-register-rate: every load connection logs in
	# from one address. -hash-memory: password hashing is not what is
	# measured.
	if parley_has -login-rate; then extra+=(-login-rate 0 -register-rate 0); fi
	if [[ -n ${2:-} ]]; then
		extra+=(-http "127.0.0.1:$hport")
	elif parley_has -http; then
		extra+=(-http "")
	fi
	# shellcheck disable=SC2086
	"$PARLEY" -addr "127.0.0.1:$port" -data "$dir/data" -secret-file "$dir/secret" \
		-rate 1000000 -burst 1000000 "${extra[@]}" -hash-memory 64 -log-level warn \
		-pprof "127.0.0.1:$pport" $PARLEY_FLAGS >"$SERVER_LOG" 2>&1 &
	SERVER_PID=$!
	PIDS+=("$SERVER_PID")
	SERVER_ADDR=127.0.0.1:$port
	PPROF_ADDR=127.0.0.1:$pport
	wait_listen "$SERVER_PID" "$port" Parley "$SERVER_LOG"
	if [[ -n ${2:-} ]]; then
		SERVER_ADDR=127.0.0.1:$hport
		wait_listen "$SERVER_PID" "$hport" "Parley's HTTP door" "$SERVER_LOG"
	fi
}

start_parley-ws() { start_parley "$1" ws; }

# start_parley-irc RUN: the load reaches Parley over its IRC door, as an
# IRC server's load, registering with NICK and USER: -irc-guests lets it.
start_parley-irc() {
	local dir=$WORK/parley-irc-$1 port iport pport
	mkdir -p "$dir"
	port=$(free_port)
	iport=$(free_port)
	pport=$(free_port)
	SERVER_LOG=$RESULTS/logs/parley-irc-$1.log
	# shellcheck disable=SC2086
	"$PARLEY" -addr "127.0.0.1:$port" -http "" -irc "127.0.0.1:$iport" -irc-guests -irc-server-name bench.parley.test \
		-data "$dir/data" -secret-file "$dir/secret" -rate 1000000 -burst 1000000 -read-rate 1000000 \
		-login-rate 0 -register-rate 0 -hash-memory 64 -log-level warn \
		-pprof "127.0.0.1:$pport" $PARLEY_FLAGS >"$SERVER_LOG" 2>&1 &
	SERVER_PID=$!
	PIDS+=("$SERVER_PID")
	SERVER_ADDR=127.0.0.1:$iport
	PPROF_ADDR=127.0.0.1:$pport
	wait_listen "$SERVER_PID" "$iport" "Parley's IRC door" "$SERVER_LOG"
}

start_ngircd() {
	local dir port
	dir=$(server_dir "ngircd-$1")
	port=$(free_port)
	mkdir -p "$dir/conf.d"
	# ngircd.conf(5). MaxPenaltyTime = 0 turns penalties off, so clients are
	# never delayed for sending fast; MaxConnectionsIP = 0 lifts the limit of
	# 5 connections per address; MaxJoins = 0 lifts the channel limit. DNS,
	# IDENT and PAM are off: each would add a lookup to every login.
	# IncludeDir points at an empty folder so no system snippets are read.
	cat >"$dir/ngircd.conf" <<EOF
[Global]
	Name = bench.parley.test
	Info = Parley benchmark peer
	AdminInfo1 = benchmark
	AdminInfo2 = loopback only
	AdminEMail = bench@localhost
	Listen = 127.0.0.1
	Ports = $port
	MotdPhrase = benchmark

[Limits]
	MaxConnections = 0
	MaxConnectionsIP = 0
	MaxJoins = 0
	MaxPenaltyTime = 0
	PingTimeout = 120
	PongTimeout = 60

[Options]
	DNS = no
	Ident = no
	PAM = no
	IncludeDir = $dir/conf.d
EOF
	chmod 644 "$dir/ngircd.conf"
	"${RUNAS[@]}" ngircd --configtest -f "$dir/ngircd.conf" >"$dir/configtest.txt" 2>&1 ||
		die "ngircd rejects its config; see $dir/configtest.txt"
	SERVER_LOG=$RESULTS/logs/ngircd-$1.log
	"${RUNAS[@]}" ngircd --nodaemon -f "$dir/ngircd.conf" >"$SERVER_LOG" 2>&1 &
	SERVER_PID=$!
	PIDS+=("$SERVER_PID")
	SERVER_ADDR=127.0.0.1:$port
	wait_listen "$SERVER_PID" "$port" ngircd "$SERVER_LOG"
}

start_inspircd() {
	local dir port
	dir=$(server_dir "inspircd-$1")
	port=$(free_port)
	# InspIRCd 3 (docs.inspircd.org/3/configuration; the shipped
	# inspircd.conf.example). Only core modules load: none that throttles.
	# <connect>: threshold and commandrate so high that no flood penalty
	# builds up (commandrate is in millicommands per second); fakelag off;
	# localmax/globalmax/limit above the connection count, since every
	# connection comes from 127.0.0.1; recvq and softsendq of 1 MiB and a
	# hardsendq of 16 MiB, so neither a fast sender nor a reader catching up
	# is cut off; no DNS or ident lookups. <performance>: a longer accept
	# queue and no clone check at accept.
	cat >"$dir/inspircd.conf" <<EOF
<server name="bench.parley.test" description="Parley benchmark peer" network="bench">
<admin name="benchmark" nick="bench" email="bench@localhost">
<bind address="127.0.0.1" port="$port" type="clients">
<connect name="bench" allow="*"
         timeout="60" pingfreq="120"
         recvq="1048576" softsendq="1048576" hardsendq="16777216"
         threshold="1000000" commandrate="1000000000" fakelag="no"
         localmax="1000000" globalmax="1000000" limit="1000000" maxchans="20"
         resolvehostnames="no" useident="no">
<performance somaxconn="4096" clonesonconnect="no" quietbursts="yes">
<log method="file" type="* -USERINPUT -USEROUTPUT" level="default" target="$dir/inspircd.log">
EOF
	chmod 644 "$dir/inspircd.conf"
	SERVER_LOG=$RESULTS/logs/inspircd-$1.log
	"${RUNAS[@]}" inspircd --nofork --nopid --config "$dir/inspircd.conf" >"$SERVER_LOG" 2>&1 &
	SERVER_PID=$!
	PIDS+=("$SERVER_PID")
	SERVER_ADDR=127.0.0.1:$port
	wait_listen "$SERVER_PID" "$port" InspIRCd "$SERVER_LOG"
}

start_ergo() {
	local dir port
	dir=$(server_dir "ergo-$1")
	port=$(free_port)
	if [[ -n $ERGO_CONFIG ]]; then
		cp "$ERGO_CONFIG" "$dir/base.yaml"
	else
		"$ERGO_BIN" defaultconfig >"$dir/base.yaml" ||
			die "$ERGO_BIN defaultconfig failed; set ERGO_CONFIG to Ergo's default.yaml"
	fi
	# From Ergo's default config: one plain listener on loopback (the
	# default TLS listener needs certificates); a send queue of 16 MiB like
	# InspIRCd's; no per-address connection count or throttle; fakelag off;
	# no translations (they are files beside a source checkout).
	awk -v port="$port" '
		/^[a-z]/ { section = $1 }
		skip && /^    [^ ]/ { skip = 0 }
		skip { next }
		section == "server:" && /^    listeners:/ {
			print; print "        \"127.0.0.1:" port "\":"; skip = 1; done["listen"] = 1; next
		}
		section == "server:" && /^    max-sendq:/ { print "    max-sendq: 16m"; done["sendq"] = 1; next }
		section == "server:" && /^        count: / { sub(/count: .*/, "count: false"); done["count"] = 1 }
		section == "server:" && /^        throttle: / { sub(/throttle: .*/, "throttle: false"); done["throttle"] = 1 }
		section == "fakelag:" && /^    enabled: / { sub(/enabled: .*/, "enabled: false"); done["fakelag"] = 1 }
		section == "languages:" && /^    enabled: / { sub(/enabled: .*/, "enabled: false"); done["languages"] = 1 }
		{ print }
		END {
			n = split("listen sendq count throttle fakelag languages", want, " ")
			for (i = 1; i <= n; i++) if (!(want[i] in done)) { print "ergo config: no " want[i] " setting found" > "/dev/stderr"; exit 1 }
		}' "$dir/base.yaml" >"$dir/ircd.yaml" || die "cannot adapt Ergo's config"
	echo "benchmark" >"$dir/ergo.motd"
	chmod 644 "$dir/ircd.yaml" "$dir/ergo.motd"
	SERVER_LOG=$RESULTS/logs/ergo-$1.log
	(cd "$dir" && "${RUNAS[@]}" "$ERGO_BIN" initdb --conf ircd.yaml --quiet) >"$SERVER_LOG" 2>&1 ||
		die "ergo initdb failed; see $SERVER_LOG"
	(cd "$dir" && exec "${RUNAS[@]}" "$ERGO_BIN" run --conf ircd.yaml) >>"$SERVER_LOG" 2>&1 &
	SERVER_PID=$!
	PIDS+=("$SERVER_PID")
	SERVER_ADDR=127.0.0.1:$port
	wait_listen "$SERVER_PID" "$port" Ergo "$SERVER_LOG"
}

driver() {
	case $1 in
	parley | parley-ws) echo "$1" ;;
	*) echo irc ;;
	esac
}

# How many connections a load process sets up at once.
dial_parallel() {
	if [[ -n $DIAL_PARALLEL ]]; then
		echo "$DIAL_PARALLEL"
	elif [[ $1 == ngircd ]]; then
		echo 8 # its listen backlog is 10 (conn.c: listen(sock, 10))
	else
		echo 1000
	fi
}

# ---- scenario c: idle connections -------------------------------------------

# memstats NAME WHEN: for Parley, the Go runtime's memory statistics and
# a heap profile into the logs (idle-memory.sh reads them the same way), so that an idle
# run's RSS can be split into heap, the runtime's own and the rest.
memstats() {
	[[ $1 == parley* ]] || return 0
	curl -sf "http://$PPROF_ADDR/debug/pprof/heap?debug=1" |
		grep -E '^# (Sys|HeapInuse|HeapIdle|HeapReleased|Stack|MSpan|GCSys|OtherSys|NumGC) ' \
			>"$RESULTS/logs/$1-idle-memstats-$2.txt" || true
	curl -sf -o "$RESULTS/logs/$1-idle-heap-$2.pb.gz" "http://$PPROF_ADDR/debug/pprof/heap" || true
}

run_idle() {
	local name=$1 drv procs k first n base rss pids=() logs=() errs=0 t0
	drv=$(driver "$name")
	log "$name: idle, $IDLE_CONNS connections"
	"start_$name" idle
	local tokens=$WORK/$name-idle.tokens
	if [[ $drv == parley* ]]; then
		# Register every user before any connection is held, so that
		# password hashing and the registrations' own traffic are neither
		# measured nor held in the baseline.
		"$LOADTEST" -driver "$drv" -server "$SERVER_ADDR" -setup-only -prefix idle \
			-conns "$IDLE_CONNS" -tokens "$tokens" >/dev/null 2>"$RESULTS/logs/$name-idle-setup.log" ||
			{
				log "$name: registering the idle users failed; see $RESULTS/logs/$name-idle-setup.log"
				stop_pid "$SERVER_PID"
				return
			}
	fi
	sleep "$IDLE_SETTLE"
	base=$(rss_kb "$SERVER_PID")
	memstats "$name" before
	procs=$(((IDLE_CONNS + IDLE_PER_PROC - 1) / IDLE_PER_PROC))
	t0=$(date +%s)
	for ((k = 0; k < procs; k++)); do
		first=$((k * IDLE_PER_PROC))
		n=$((IDLE_CONNS - first < IDLE_PER_PROC ? IDLE_CONNS - first : IDLE_PER_PROC))
		local lg=$RESULTS/logs/$name-idle-$k.log
		"$LOADTEST" -driver "$drv" -server "$SERVER_ADDR" -scenario idle -prefix idle \
			-tokens "$tokens" -first "$first" -conns "$n" -dial-parallel "$(dial_parallel "$name")" \
			-warmup "${IDLE_SETTLE}s" -hold 24h -pid "$SERVER_PID" -json \
			>"$RESULTS/$name-idle-$k.json" 2>"$lg" &
		pids+=($!)
		PIDS+=($!)
		logs+=("$lg")
		# Start the next process only when this one holds its connections.
		until grep -qs '^holding' "$lg"; do
			if ! kill -0 "${pids[k]}" 2>/dev/null; then
				log "$name: idle load process $k failed: $(tail -1 "$lg")"
				break 2
			fi
			sleep 0.5
		done
	done
	local held=0
	for ((k = 0; k < ${#pids[@]}; k++)); do
		if grep -qs '^holding' "${logs[k]}"; then held=$((held + 1)); fi
	done
	if ((held == procs)); then
		sleep "$IDLE_SETTLE"
		rss=$(rss_kb "$SERVER_PID")
		memstats "$name" holding
		log "$name: $IDLE_CONNS held after $(($(date +%s) - t0))s; RSS $base KB before, $rss KB now"
	fi
	for pid in "${pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
		forget "$pid"
	done
	for ((k = 0; k < ${#pids[@]}; k++)); do
		local e
		e=$(jq -r '.errors // 0' "$RESULTS/$name-idle-$k.json" 2>/dev/null || echo 0)
		errs=$((errs + ${e:-0}))
	done
	stop_pid "$SERVER_PID"
	if ((held == procs)); then
		jq -n --arg server "$name" --argjson conns "$IDLE_CONNS" --argjson procs "$procs" \
			--argjson base "$base" --argjson rss "$rss" --argjson errors "$errs" \
			'{server: $server, scenario: "idle", conns: $conns, load_processes: $procs,
			  base_rss_kb: $base, server_rss_kb: $rss, errors: $errors,
			  rss_per_conn_kb: (($rss - $base) / $conns)}' >"$RESULTS/$name-idle.json"
	fi
}

# ---- scenario a: fan-out ----------------------------------------------------

# rate_label names a RATES entry in file names: flat, 40ps, 40ps-aligned.
rate_label() {
	case $1 in
	0) echo flat ;;
	*a) echo "${1%a}ps-aligned" ;;
	*) echo "${1}ps" ;;
	esac
}
# rate_flags gives the load tool's flags for a RATES entry.
rate_flags() {
	case $1 in
	*a) echo "-rate ${1%a} -aligned" ;;
	*) echo "-rate $1" ;;
	esac
}
# rate_words describes a RATES entry.
rate_words() {
	case $1 in
	0) echo 'full speed' ;;
	*a) echo "${1%a} msg/s per sender, all at the same instants" ;;
	*) echo "$1 msg/s per sender, spread over the period" ;;
	esac
}

run_fanout() {
	local name=$1 drv r=0 rate label first tokens
	tokens=$WORK/$name-fanout.tokens
	drv=$(driver "$name")
	log "$name: fan-out, 1 room × $FANOUT_CONNS members, $SENDERS senders, $SIZE-byte messages"
	"start_$name" fanout
	if [[ $drv == parley* ]]; then
		"$LOADTEST" -driver "$drv" -server "$SERVER_ADDR" -setup-only -prefix fan \
			-conns "$FANOUT_CONNS" -tokens "$tokens" >/dev/null 2>"$RESULTS/logs/$name-fanout-setup.log" ||
			{
				log "$name: registering the fan-out users failed; see $RESULTS/logs/$name-fanout-setup.log"
				stop_pid "$SERVER_PID"
				return
			}
	fi
	for rate in $RATES; do
		label=$(rate_label "$rate")
		# IRC nicks of one run are not reused in the next, so a nick still
		# quitting cannot collide; Parley users log in again with their tokens.
		first=0
		if [[ $drv == irc ]]; then first=$((r * FANOUT_CONNS)); fi
		r=$((r + 1))
		local out=$RESULTS/$name-fanout-$label.json lg=$RESULTS/logs/$name-fanout-$label.log prof=""
		log "$name: fan-out at $(rate_words "$rate"), ${DURATION}s"
		# shellcheck disable=SC2046 # rate_flags gives separate words
		"$LOADTEST" -driver "$drv" -server "$SERVER_ADDR" -scenario fanout -prefix fan -tokens "$tokens" \
			-first "$first" -conns "$FANOUT_CONNS" -senders "$SENDERS" -size "$SIZE" $(rate_flags "$rate") \
			-duration "${DURATION}s" -warmup "${WARMUP}s" -dial-parallel "$(dial_parallel "$name")" \
			-pid "$SERVER_PID" -json >"$out" 2>"$lg" &
		local lt=$!
		PIDS+=("$lt")
		if [[ $name == parley && $rate == 0 ]]; then
			# A CPU profile of the measured part of the flat-out run.
			prof=$RESULTS/parley-fanout-flat.pprof
			(
				until grep -qs '^measuring' "$lg"; do
					kill -0 "$lt" 2>/dev/null || exit 0
					sleep 0.2
				done
				curl -sf -o "$prof" "http://$PPROF_ADDR/debug/pprof/profile?seconds=$((DURATION - 1))"
			) &
			local pp=$!
			PIDS+=("$pp")
		fi
		if ! wait "$lt"; then
			log "$name: fan-out $label failed: $(tail -1 "$lg")"
			rm -f "$out"
		fi
		forget "$lt"
		if [[ -n $prof ]]; then
			wait "$pp" || true
			forget "$pp"
			if [[ -s $prof ]]; then
				go tool pprof -top -nodecount=30 "$PARLEY" "$prof" >"$RESULTS/parley-fanout-flat.top.txt" 2>/dev/null ||
					log "go tool pprof could not read $prof"
			else
				log "no CPU profile was taken"
			fi
		fi
	done
	stop_pid "$SERVER_PID"
}

# ---- run --------------------------------------------------------------------

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
LOAD_BEFORE=$(loadavg)
RAN=()
for s in parley parley-ws parley-irc ngircd inspircd ergo; do
	want "$s" || continue
	RAN+=("$s")
done
((${#RAN[@]} > 0)) || die "no server to run (SERVERS=\"$SERVERS\")"
declare -A VERSION
for s in "${RAN[@]}"; do VERSION[$s]=$(version "$s"); done

{
	echo "date: $(date -Is)"
	echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), Linux $(uname -r)"
	echo "load average before: $LOAD_BEFORE"
	echo "fan-out: 1 room × $FANOUT_CONNS members, $SENDERS senders, $SIZE-byte messages, rates per sender: $RATES (0 = flat out; a = all senders at the same instants), ${DURATION}s measured after ${WARMUP}s"
	echo "idle: $IDLE_CONNS connections in load processes of $IDLE_PER_PROC; open-file hard limit $hard"
	for s in "${RAN[@]}"; do echo "$s: ${VERSION[$s]}"; done
	if [[ -n $PARLEY_FLAGS ]]; then echo "Parley extra flags: $PARLEY_FLAGS"; fi
} >"$RESULTS/meta.txt"
cat "$RESULTS/meta.txt" >&2

for s in "${RAN[@]}"; do
	run_idle "$s"
	if [[ -n ${RATES// /} ]]; then run_fanout "$s"; fi
done
LOAD_AFTER=$(loadavg)
echo "load average after: $LOAD_AFTER" >>"$RESULTS/meta.txt"

# ---- table ------------------------------------------------------------------

# value FILE JQ-EXPR prints the number or nothing.
value() {
	if [[ -s $1 ]]; then jq -r "$2 // empty" "$1" 2>/dev/null || true; fi
}

{
	printf 'row\tformat\tbetter'
	for s in "${RAN[@]}"; do printf '\t%s' "${VERSION[$s]}"; done
	printf '\n'
	for rate in $RATES; do
		label=$(rate_label "$rate")
		if [[ $rate == 0 ]]; then
			printf 'fan-out, flat out\t\t\n'
		else
			printf 'fan-out, %s (%s deliveries/s asked)\t\t\n' "$(rate_words "$rate")" \
				"$(awk -v r="${rate%a}" -v s="$SENDERS" -v n="$FANOUT_CONNS" 'BEGIN {printf "%.0f", r*s*n}')"
		fi
		for m in "deliveries/s|delivered_per_sec|%.0f|high" "server CPU per delivery, us|cpu_per_delivery_us|%.3f|low" \
			"latency p50 ms|p50_ms|%.2f|low" "latency p99 ms|p99_ms|%.2f|low" "errors|errors|%.0f|low"; do
			IFS='|' read -r title key fmt better <<<"$m"
			printf '  %s\t%s\t%s' "$title" "$fmt" "$better"
			for s in "${RAN[@]}"; do printf '\t%s' "$(value "$RESULTS/$s-fanout-$label.json" ".$key")"; done
			printf '\n'
		done
	done
	printf 'idle connections\t\t\n'
	for m in "connections held|conns|%.0f|" "server RSS KB per connection|rss_per_conn_kb|%.2f|low" "errors|errors|%.0f|low"; do
		IFS='|' read -r title key fmt better <<<"$m"
		printf '  %s\t%s\t%s' "$title" "$fmt" "$better"
		for s in "${RAN[@]}"; do printf '\t%s' "$(value "$RESULTS/$s-idle.json" ".$key")"; done
		printf '\n'
	done
} >"$RESULTS/table.tsv"

# Each cell: the number, then its ratio to Parley's (server ÷ Parley).
awk -F'\t' -v base="${RAN[0]}" '
	NR == 1 {
		printf "%-44s", ""
		for (i = 4; i <= NF; i++) printf "  %-22s", $i
		printf "\n"
		next
	}
	$2 == "" { print $1; next }
	{
		printf "%-44s", $1
		ref = $4
		for (i = 4; i <= NF; i++) {
			if ($i == "") { cell = "failed" }
			else {
				cell = sprintf($2, $i)
				if (base == "parley" && i > 4 && $3 != "" && ref != "" && ref + 0 != 0)
					cell = cell sprintf(" (%.2fx)", $i / ref)
			}
			printf "  %-22s", cell
		}
		printf "\n"
	}' "$RESULTS/table.tsv" >"$RESULTS/table.txt"

echo
cat "$RESULTS/meta.txt"
echo
cat "$RESULTS/table.txt"
echo
if [[ ${RAN[0]} == parley ]]; then
	echo "(Nx) is the server's figure divided by Parley's: above 1 is better for deliveries/s, worse for the rest."
fi
echo "CPU per delivery is the server's user+system time over the measured seconds, from /proc/PID/stat,"
echo "divided by the messages the load tool read; the load tool shares the machine's cores with the server."
echo "Parley stores every message (SQLite under -data); the IRC servers keep no history on disk."
if [[ -s $RESULTS/parley-fanout-flat.top.txt ]]; then
	echo
	echo "Parley, flat-out fan-out, CPU profile (go tool pprof -top):"
	sed -n '1,25p' "$RESULTS/parley-fanout-flat.top.txt"
fi
echo
echo "results: $RESULTS"
