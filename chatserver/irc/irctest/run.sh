#!/usr/bin/env bash
# Runs irctest's server tests against Parley's IRC door, one module at a
# time, and prints each module's passed, failed and skipped counts.
#
#   chatserver/irc/irctest/run.sh [module ...]
#
# irctest is found at $IRCTEST_DIR, or ../shared/irctest beside the
# checkout, or /work/shared/irctest. It needs Debian's python3-pytest and
# /usr/bin/python3. The exit status is non-zero if any test failed.
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
bin=$(mktemp -d)/chatserver
trap 'rm -rf "$(dirname "$bin")"' EXIT
(cd "$root" && go build -o "$bin" ./chatserver) || exit 1
status=0
printf '%-26s %6s %6s %7s\n' module passed failed skipped
for m in "${modules[@]}"; do
	out=$(cd "$dir" && PARLEY_CHATSERVER=$bin PYTHONPATH=$here timeout 600 /usr/bin/python3 -m pytest \
		-p no:cacheprovider --controller parley -q -rfs \
		-m 'not implementation-specific and not deprecated and not strict' \
		"irctest/server_tests/$m.py" 2>&1)
	rc=$?
	summary=$(printf '%s\n' "$out" | tail -n 1)
	count() { printf '%s\n' "$summary" | grep -oE "[0-9]+ $1" | grep -oE '[0-9]+' || echo 0; }
	printf '%-26s %6s %6s %7s\n' "$m" "$(count passed)" "$(count failed)" "$(count skipped)"
	if [ $rc -ne 0 ] && [ $rc -ne 5 ]; then
		status=1
		printf '%s\n' "$out" | grep -E '^(FAILED|ERROR|SKIPPED)' | sed 's/^/    /'
	fi
	[ -n "${IRCTEST_VERBOSE:-}" ] && printf '%s\n' "$out" | grep -E '^SKIPPED' | sed 's/^/    /'
done
exit $status
