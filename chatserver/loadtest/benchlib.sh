# shellcheck shell=bash
# Helpers shared by the comparison scripts (chatserver/loadtest/compare.sh,
# fileserver/bench/compare.sh); they source this file after setting
# KEEP_WORK. Set WORK to the work folder and add every background process
# to PIDS: cleanup stops them and removes WORK when the script ends.

WORK=${WORK:-}
PIDS=()

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

SUDO=()
((EUID == 0)) || SUDO=(sudo)
apt_install() {
	log "installing $* with apt-get"
	if ! "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >&2; then
		"${SUDO[@]}" apt-get update -q >&2
		"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >&2
	fi
}

cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	if [[ ${KEEP_WORK:-0} == 1 ]]; then
		log "work folder kept: $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 141' PIPE

forget() { # drop a pid from the cleanup list
	local p keep=()
	for p in "${PIDS[@]}"; do
		[[ $p == "$1" ]] || keep+=("$p")
	done
	PIDS=("${keep[@]}")
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
TAKEN=" "
free_port() {
	local p i
	for ((i = 0; i < 200; i++)); do
		p=$((20000 + RANDOM % 12000)) # below the usual local port range
		[[ $TAKEN == *" $p "* ]] && continue
		if ! port_open "$p"; then
			TAKEN+="$p "
			echo "$p"
			return
		fi
	done
	die "no free port found"
}

wait_listen() { # pid port name logfile
	local i
	for ((i = 0; i < 300; i++)); do
		kill -0 "$1" 2>/dev/null || die "$3 exited at start; see $4"
		if port_open "$2"; then
			sleep 0.3
			kill -0 "$1" 2>/dev/null || die "$3 exited at start; see $4"
			return
		fi
		sleep 0.1
	done
	die "$3 did not listen on port $2 within 30s; see $4"
}

stop_pid() { # pid, then wait for it
	local i
	kill -TERM "$1" 2>/dev/null || true
	for ((i = 0; i < 150; i++)); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	forget "$1"
}
