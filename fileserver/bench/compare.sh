#!/usr/bin/env bash
#
# compare.sh: file transfers through Parley's file server and through
# nginx, serving the same folder on loopback, with the same client (curl),
# in one run.
#
# Usage: fileserver/bench/compare.sh
#
# It makes a file of SIZE_MB MiB of random data, then, REPEAT times each and
# taking turns,
#
#   - uploads it with `curl -T` to Parley (PUT /files/NAME with a bearer
#     token) and to nginx (WebDAV PUT), each into the shared folder;
#   - downloads the file Parley stored, from each server, to /dev/null;
#
# and prints one table: the median speed of each (curl's %{speed_upload}
# and %{speed_download}), the server's CPU time per transfer, and its
# resident memory during the transfers (the highest of VmRSS sampled every
# 50 ms, summed over the server's processes, and VmHWM at the end), with the
# ratio Parley/nginx. Raw numbers go to RESULTS.
#
# The file-access token comes from a Parley chat server started for the
# purpose: the script says hello and logs in over the chat protocol and
# reads files_token from the reply. Both Parley servers get a fresh secret
# through $PARLEY_SECRET, so no secret file is read or written.
#
# When run as root, the file server and nginx both run as the user nobody
# (so either can read what the other wrote). nginx (Debian's package, which
# has the WebDAV module) and curl and jq are installed with apt-get if they
# are missing, through sudo when not root. Every process started is stopped
# and the temporary folder removed on exit.
#
# Environment (defaults in brackets):
#   SIZE_MB     size of the test file in MiB [1024]
#   REPEAT      transfers of each kind per server [3]
#   BENCH_DIR   where the temporary folder goes; it needs about 3 × SIZE_MB
#               plus 2 GiB free [${TMPDIR:-/tmp}]
#   RESULTS     where results go [${TMPDIR:-/tmp}/parley-files-compare-DATE]
#   KEEP_WORK   set to 1 to keep the temporary folder
#
# A quick check: SIZE_MB=64 REPEAT=2 fileserver/bench/compare.sh
#
# Differences that the numbers include: Parley hashes every upload
# (SHA-256), syncs it to disk and renames it into place before it answers;
# nginx writes the body to a temporary file and renames it, without a sync.
# Parley writes whole blocks with direct I/O, so the file it stored is not
# in the page cache until the first download reads it from the disk; the
# downloads after that are served from the page cache by both, with
# sendfile.

set -euo pipefail

usage() { sed -n '3,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

case "${1:-}" in
-h | --help)
	usage
	exit 0
	;;
esac
if (($# > 0)); then
	usage >&2
	exit 2
fi

# Paths given by the caller are relative to where it was called from.
abspath() { if [[ -n $1 && $1 != /* ]]; then echo "$PWD/$1"; else echo "$1"; fi; }
[[ -z ${RESULTS:-} ]] || RESULTS=$(abspath "$RESULTS")
[[ -z ${BENCH_DIR:-} ]] || BENCH_DIR=$(abspath "$BENCH_DIR")

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# Shared helpers: log, die, apt_install, cleanup, free_port, wait_listen, stop_pid.
# shellcheck source=chatserver/loadtest/benchlib.sh
source "$PWD/chatserver/loadtest/benchlib.sh"
PATH=$PATH:/usr/sbin:/sbin

SIZE_MB=${SIZE_MB:-1024}
REPEAT=${REPEAT:-3}
BENCH_DIR=${BENCH_DIR:-${TMPDIR:-/tmp}}
RESULTS=${RESULTS:-${TMPDIR:-/tmp}/parley-files-compare-$(date +%Y%m%d-%H%M%S)}
KEEP_WORK=${KEEP_WORK:-0}


[[ $SIZE_MB =~ ^[1-9][0-9]*$ ]] || die "SIZE_MB must be a positive whole number"
[[ $REPEAT =~ ^[1-9][0-9]*$ ]] || die "REPEAT must be a positive whole number"
SIZE=$((SIZE_MB * 1048576))

# ---- tools ------------------------------------------------------------------

missing=()
command -v nginx >/dev/null || missing+=(nginx)
command -v curl >/dev/null || missing+=(curl)
command -v jq >/dev/null || missing+=(jq)
((${#missing[@]} == 0)) || apt_install "${missing[@]}"
command -v go >/dev/null || die "go is needed to build Parley's servers"
# Debian's nginx is built with the WebDAV module (PUT); check, in case
# another build is first on the PATH.
nginx -V 2>&1 | grep -q -- --with-http_dav_module ||
	die "$(command -v nginx) has no WebDAV module (--with-http_dav_module); Debian's nginx package has it"

RUNAS=()
if ((EUID == 0)); then
	RUNAS=(setpriv --reuid=nobody --regid="$(id -gn nobody)" --clear-groups)
fi

# ---- work folder, cleanup ---------------------------------------------------

mkdir -p "$BENCH_DIR"
avail_kb=$(df -Pk "$BENCH_DIR" | awk 'NR == 2 {print $4}')
need_kb=$(((3 * SIZE + 2 * 1073741824) / 1024))
((avail_kb >= need_kb)) ||
	die "$BENCH_DIR has $((avail_kb / 1024)) MiB free; this run needs $((need_kb / 1024)) MiB (set BENCH_DIR or SIZE_MB)"

WORK=$(mktemp -d "$BENCH_DIR/parley-files-compare.XXXXXX")
chmod 755 "$WORK"
if ((${#RUNAS[@]} > 0)) && ! "${RUNAS[@]}" test -x "$WORK"; then
	rm -rf "$WORK"
	die "the user nobody cannot reach $WORK; set BENCH_DIR to a folder it can"
fi
mkdir -p "$RESULTS"



# Folders the servers write to, whoever they run as.
owned_dir() {
	mkdir -p "$1"
	if ((EUID == 0)); then chown nobody:"$(id -gn nobody)" "$1"; fi
}

# ---- build, file, token -----------------------------------------------------

log "building Parley's chat server and file server"
go build -o "$WORK/chatserver" ./chatserver
go build -o "$WORK/fileserver" ./fileserver

log "making a $SIZE_MB MiB file of random data"
mkdir -p "$WORK/src"
head -c "$SIZE" /dev/urandom >"$WORK/src/test.bin"
chmod 644 "$WORK/src/test.bin"

PARLEY_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
export PARLEY_SECRET

chat_port=$(free_port)
mkdir -p "$WORK/chat"
"$WORK/chatserver" -addr "127.0.0.1:$chat_port" -http "" -data "$WORK/chat/data" -hash-memory 64 \
	-files-token-ttl 24h -log-level warn >"$RESULTS/chatserver.log" 2>&1 &
chat_pid=$!
PIDS+=("$chat_pid")
wait_listen "$chat_pid" "$chat_port" "chat server" "$RESULTS/chatserver.log"

# hello, then a login that registers the user; the reply carries files_token.
get_token() {
	local line tok=""
	exec 5<>"/dev/tcp/127.0.0.1/$chat_port"
	printf '%s\n' '{"type":"hello","version":1,"client":"files-bench"}' >&5
	IFS= read -r -t 30 line <&5 || die "no welcome from the chat server"
	jq -e '.type == "welcome"' >/dev/null <<<"$line" || die "chat server: $line"
	printf '{"type":"login","id":1,"name":"bench","password":"%s"}\n' "$PARLEY_SECRET" >&5
	while IFS= read -r -t 30 line <&5; do
		if jq -e '.re == 1' >/dev/null 2>&1 <<<"$line"; then
			jq -e '.type == "ok"' >/dev/null <<<"$line" || die "login refused: $line"
			tok=$(jq -r '.files_token // empty' <<<"$line")
			break
		fi
	done
	exec 5>&-
	[[ -n $tok ]] || die "the login reply had no files_token"
	echo "$tok"
}
TOKEN=$(get_token)
kill -TERM "$chat_pid"
wait "$chat_pid" 2>/dev/null || true
log "got a file-access token"

# ---- servers ----------------------------------------------------------------

SHARE=$WORK/share
owned_dir "$SHARE"
owned_dir "$WORK/state"
owned_dir "$WORK/nginx"
owned_dir "$WORK/nginx/body"

fs_port=$(free_port)
"${RUNAS[@]}" "$WORK/fileserver" -addr "127.0.0.1:$fs_port" -dir "$SHARE" -state "$WORK/state" \
	-max-size 0 -log-level warn >"$RESULTS/fileserver.log" 2>&1 &
fs_pid=$!
PIDS+=("$fs_pid")
wait_listen "$fs_pid" "$fs_port" "file server" "$RESULTS/fileserver.log"

# nginx: one worker (one transfer at a time), sendfile as in Debian's
# default config, no access log; the same folder as root; WebDAV PUT with no
# body size limit, its temporary files on the same file system as the
# folder so that a finished upload is renamed into place. Every temporary
# path is set, since the compiled-in ones are not writable by nobody.
ng_port=$(free_port)
cat >"$WORK/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log stderr warn;
events {
	worker_connections 1024;
}
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	default_type application/octet-stream;
	client_body_temp_path $WORK/nginx/body;
	proxy_temp_path $WORK/nginx/body;
	fastcgi_temp_path $WORK/nginx/body;
	uwsgi_temp_path $WORK/nginx/body;
	scgi_temp_path $WORK/nginx/body;
	server {
		listen 127.0.0.1:$ng_port;
		root $SHARE;
		location / {
			dav_methods PUT;
			dav_access user:rw group:r all:r;
			client_max_body_size 0;
		}
	}
}
EOF
chmod 644 "$WORK/nginx/nginx.conf"
"${RUNAS[@]}" nginx -t -q -e stderr -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" >"$RESULTS/nginx-configtest.log" 2>&1 ||
	die "nginx rejects its config; see $RESULTS/nginx-configtest.log"
"${RUNAS[@]}" nginx -e stderr -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" >"$RESULTS/nginx.log" 2>&1 &
ng_pid=$!
PIDS+=("$ng_pid")
wait_listen "$ng_pid" "$ng_port" nginx "$RESULTS/nginx.log"

# ---- measuring --------------------------------------------------------------

# The processes of a server: the file server, or nginx's master and workers.
server_pids() {
	if [[ $1 == parley ]]; then
		echo "$fs_pid"
	else
		echo "$ng_pid" "$(cat /proc/"$ng_pid"/task/*/children 2>/dev/null)"
	fi
}
rss_sum() { # pids...: VmRSS in KB, summed
	local p s=0 v
	for p in "$@"; do
		v=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
		s=$((s + ${v:-0}))
	done
	echo "$s"
}
hwm_sum() { # pids...: VmHWM in KB, summed
	local p s=0 v
	for p in "$@"; do
		v=$(awk '/^VmHWM:/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
		s=$((s + ${v:-0}))
	done
	echo "$s"
}
TICK=$(getconf CLK_TCK)
cpu_ticks() { # pids...: user + system time in clock ticks, summed
	local p s=0 v
	for p in "$@"; do
		v=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)
		s=$((s + ${v:-0}))
	done
	echo "$s"
}

# transfer SERVER up|down REP: one curl transfer; appends a JSON line to
# $RESULTS/transfers.jsonl.
transfer() {
	local server=$1 dir=$2 rep=$3 url out pids peak=0 c0 c1 rss sampler
	local -a auth=()
	if [[ $server == parley ]]; then
		auth=(-H "Authorization: Bearer $TOKEN")
		if [[ $dir == up ]]; then
			url="http://127.0.0.1:$fs_port/files/parley-upload.bin?overwrite=1"
		else
			url="http://127.0.0.1:$fs_port/files/parley-upload.bin"
		fi
	else
		if [[ $dir == up ]]; then
			url="http://127.0.0.1:$ng_port/nginx-upload.bin"
		else
			url="http://127.0.0.1:$ng_port/parley-upload.bin"
		fi
	fi
	read -r -a pids <<<"$(server_pids "$server")"
	local peakfile=$WORK/peak.$server.$dir.$rep
	rss_sum "${pids[@]}" >"$peakfile"
	(
		m=$(cat "$peakfile")
		while :; do
			r=$(rss_sum "${pids[@]}")
			if ((r > m)); then
				m=$r
				echo "$m" >"$peakfile"
			fi
			sleep 0.05
		done
	) &
	sampler=$!
	PIDS+=("$sampler")
	c0=$(cpu_ticks "${pids[@]}")
	local fmt='{"code":%{http_code},"bytes_up":%{size_upload},"bytes_down":%{size_download},"speed_up":%{speed_upload},"speed_down":%{speed_download},"seconds":%{time_total}}'
	if [[ $dir == up ]]; then
		out=$(curl -sS -o "$WORK/reply.txt" -T "$WORK/src/test.bin" "${auth[@]}" -w "$fmt" "$url")
	else
		out=$(curl -sS -o /dev/null "${auth[@]}" -w "$fmt" "$url")
	fi
	c1=$(cpu_ticks "${pids[@]}")
	kill "$sampler" 2>/dev/null || true
	wait "$sampler" 2>/dev/null || true
	peak=$(cat "$peakfile")
	rss=$(rss_sum "${pids[@]}")
	if ((rss > peak)); then peak=$rss; fi
	jq -c --arg server "$server" --arg dir "$dir" --argjson rep "$rep" --argjson peak "$peak" \
		--argjson cpu "$(awk -v t="$((c1 - c0))" -v hz="$TICK" 'BEGIN {printf "%.3f", t/hz}')" \
		--argjson rss "$rss" \
		'. + {server: $server, direction: $dir, rep: $rep, peak_rss_kb: $peak, rss_after_kb: $rss, server_cpu_seconds: $cpu}
		 | .mib_per_sec = ((if $dir == "up" then .speed_up else .speed_down end) / 1048576)' \
		<<<"$out" | tee -a "$RESULTS/transfers.jsonl" >&2
	local code bytes
	code=$(jq -r .code <<<"$out")
	if [[ $dir == up ]]; then bytes=$(jq -r .bytes_up <<<"$out"); else bytes=$(jq -r .bytes_down <<<"$out"); fi
	if [[ $code != 2* || $bytes != "$SIZE" ]]; then
		log "$server $dir: HTTP $code, $bytes of $SIZE bytes"
		[[ $dir == up ]] && cat "$WORK/reply.txt" >&2
		die "$server $dir failed"
	fi
}

: >"$RESULTS/transfers.jsonl"
log "uploads: $REPEAT of $SIZE_MB MiB to each server"
for ((i = 1; i <= REPEAT; i++)); do
	transfer parley up "$i"
	transfer nginx up "$i"
done
cmp -s "$WORK/src/test.bin" "$SHARE/parley-upload.bin" || die "the file uploaded through Parley differs from the original"
cmp -s "$WORK/src/test.bin" "$SHARE/nginx-upload.bin" || die "the file uploaded through nginx differs from the original"
log "both uploads arrived intact"

log "downloads: $REPEAT of $SIZE_MB MiB from each server"
for ((i = 1; i <= REPEAT; i++)); do
	transfer parley down "$i"
	transfer nginx down "$i"
done

read -r -a fs_pids <<<"$(server_pids parley)"
read -r -a ng_pids <<<"$(server_pids nginx)"
FS_HWM=$(hwm_sum "${fs_pids[@]}")
NG_HWM=$(hwm_sum "${ng_pids[@]}")

# ---- table ------------------------------------------------------------------

jq -s --argjson fs_hwm "$FS_HWM" --argjson ng_hwm "$NG_HWM" --argjson size_mb "$SIZE_MB" '
	def median: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
		else (.[length / 2 - 1] + .[length / 2]) / 2 end;
	def stats(s; d): [.[] | select(.server == s and .direction == d)]
		| {mib_per_sec: ([.[].mib_per_sec] | median),
		   server_cpu_seconds: ([.[].server_cpu_seconds] | median),
		   peak_rss_kb: ([.[].peak_rss_kb] | max)};
	{size_mib: $size_mb,
	 parley: {upload: stats("parley"; "up"), download: stats("parley"; "down"), vmhwm_kb: $fs_hwm},
	 nginx: {upload: stats("nginx"; "up"), download: stats("nginx"; "down"), vmhwm_kb: $ng_hwm}}
' "$RESULTS/transfers.jsonl" >"$RESULTS/summary.json"

NGINX_VERSION=$(nginx -v 2>&1 | sed 's/.*nginx\//nginx /')
{
	echo "date: $(date -Is)"
	echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), Linux $(uname -r), folder on $(df -P "$SHARE" | awk 'NR == 2 {print $1}') ($(findmnt -no FSTYPE -T "$SHARE" 2>/dev/null || echo '?'))"
	echo "file: $SIZE_MB MiB of random data; $REPEAT transfers of each kind per server; medians; curl $(curl --version | awk 'NR == 1 {print $2}')"
	echo "Parley $(git describe --always --dirty 2>/dev/null || echo '') file server; $NGINX_VERSION"
	echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	printf '%-26s %12s %12s %14s\n' "" Parley nginx Parley/nginx
	jq -r '
		def row(t; a; b; d): [t, (a // ""), (b // ""), d];
		row("upload, MiB/s"; .parley.upload.mib_per_sec; .nginx.upload.mib_per_sec; 1),
		row("upload, server CPU s"; .parley.upload.server_cpu_seconds; .nginx.upload.server_cpu_seconds; 2),
		row("upload, peak RSS MiB"; .parley.upload.peak_rss_kb / 1024; .nginx.upload.peak_rss_kb / 1024; 1),
		row("download, MiB/s"; .parley.download.mib_per_sec; .nginx.download.mib_per_sec; 1),
		row("download, server CPU s"; .parley.download.server_cpu_seconds; .nginx.download.server_cpu_seconds; 2),
		row("download, peak RSS MiB"; .parley.download.peak_rss_kb / 1024; .nginx.download.peak_rss_kb / 1024; 1),
		row("VmHWM at the end, MiB"; .parley.vmhwm_kb / 1024; .nginx.vmhwm_kb / 1024; 1)
		| @tsv' "$RESULTS/summary.json" |
		awk -F'\t' '{
			a = ($2 == "") ? "-" : sprintf("%." $4 "f", $2)
			b = ($3 == "") ? "-" : sprintf("%." $4 "f", $3)
			r = ($2 == "" || $3 == "" || $3 + 0 == 0) ? "-" : sprintf("%.2fx", $2 / $3)
			printf "%-26s %12s %12s %14s\n", $1, a, b, r
		}'
	echo
	echo "RSS: Parley is one process; nginx is its master and one worker, summed."
} >"$RESULTS/table.txt"

echo
cat "$RESULTS/table.txt"
echo
echo "results: $RESULTS"
