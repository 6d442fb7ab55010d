#!/usr/bin/env bash
# Runs irctest's server tests against Parley's IRC door, one module at a
# time, and prints each module's passed, failed and skipped counts, and
# the reasons of the skips.
#
#   chatserver/irc/irctest/run.sh [module ...]
#
# irctest is found at $IRCTEST_DIR, or ../shared/irctest beside the
# checkout, or /work/shared/irctest. It needs Debian's python3-pytest and
# /usr/bin/python3.
#
# known-failures.txt beside this script lists the tests that fail because
# Parley has no such feature, each with the reason. The run fails if any
# other test fails, or if a listed test passes (then the list is out of
# date).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
dir=${IRCTEST_DIR:-}
for d in "$root/../shared/irctest" /work/shared/irctest; do
	[ -n "$dir" ] && break
	[ -f "$d/conftest.py" ] && dir=$d
done
if [ -z "$dir" ] || [ ! -f "$dir/conftest.py" ]; then
	echo "irctest not found: set IRCTEST_DIR" >&2
	exit 2
fi
modules=("$@")
if [ ${#modules[@]} -eq 0 ]; then
	modules=(connection_registration pingpong quit join part names messages topic kick who isupport cap sasl message_tags echo_message)
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bin=$tmp/chatserver
(cd "$root" && go build -o "$bin" ./chatserver) || exit 1
known=$here/known-failures.txt
status=0
printf '%-26s %6s %6s %7s\n' module passed failed skipped
for m in "${modules[@]}"; do
	out=$tmp/$m.txt
	# TMPDIR of the run's own: irctest keeps the ports it took in
	# $TMPDIR/irctest_ports.json, unlocked outside pytest-xdist, so
	# runs at the same time on one machine would read each other's
	# half-written file.
	(cd "$dir" && TMPDIR=$tmp PARLEY_CHATSERVER=$bin PYTHONPATH=$here timeout 900 /usr/bin/python3 -m pytest \
		-p no:cacheprovider --controller parley -q -rA \
		-m 'not implementation-specific and not deprecated and not strict' \
		"irctest/server_tests/$m.py") >"$out" 2>&1
	summary=$(tail -n 1 "$out")
	count() { printf '%s\n' "$summary" | grep -oE "[0-9]+ $1" | grep -oE '^[0-9]+' || echo 0; }
	printf '%-26s %6s %6s %7s\n' "$m" "$(count passed)" "$(count failed)" "$(count skipped)"
	if ! grep -qE '(passed|failed|skipped|deselected|error).* in [0-9.]+s' "$out"; then
		echo "    the run did not finish:"
		tail -n 20 "$out" | sed 's/^/    /'
		status=1
		continue
	fi
	grep -E '^SKIPPED' "$out" | sed -E 's/^SKIPPED \[([0-9]+)\] [^:]+:[0-9]+: /    skipped (\1): /'
	while read -r id; do
		if grep -qF -- "$id " "$known"; then
			echo "    known failure: $id: $(grep -F -- "$id " "$known" | cut -d' ' -f2- | sed 's/^ *//')"
		else
			echo "    FAILED: $id"
			status=1
		fi
	done < <(grep -E '^(FAILED|ERROR) ' "$out" | sed -E 's/^(FAILED|ERROR) ([^ ]+).*/\2/')
	while read -r id; do
		if awk -v id="$id" '$1 == "PASSED" && $2 == id { found = 1 } END { exit !found }' "$out"; then
			echo "    listed in known-failures.txt but passed: $id"
			status=1
		fi
	done < <(grep -E "^irctest/server_tests/$m\.py::" "$known" | cut -d' ' -f1)
done
if [ $status -ne 0 ]; then
	echo "irctest: failures beyond known-failures.txt (full output kept in $tmp)"
	trap - EXIT
fi
exit $status
