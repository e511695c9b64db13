#!/usr/bin/env bash
# tests/bench_smoke/smoke.sh BIN_DIR — starts enrollgated (embedded default, temp state, port 0),
# makes two EAB credentials for `web` with `enrollgate eab create`, runs `enrollgate-bench acme
# --smoke`, and `enrollgate-bench est --smoke --reenroll` when `enrollgate est password` exists.
# Exits non-zero on any error; every process it started is stopped on exit.
set -euo pipefail

bin="$(cd "$1" && pwd)"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
work="$(mktemp -d "${TMPDIR:-/tmp}/eg-bench-smoke.XXXXXX")"
cleanup() {
  local status=$?
  eg_stop_all
  [ "$status" = 0 ] || { echo "--- enrollgated log (tail)"; tail -n 40 "$work/enrollgated.log" 2>/dev/null; }
  rm -rf "$work"
}
trap cleanup EXIT

eg_write_config "$work"
est=0
if eg_est_password "$bin" devices device; then est=1; fi
eg_start_enrollgated "$bin" "$work"
eg_create_eab "$bin" 2 "$work/eab"

"$bin/enrollgate-bench" acme --smoke --directory "$EG_DAEMON_URL/acme/directory" \
  --ca-bundle "$EG_DAEMON_CA" --eab-file "$work/eab" --json "$work/acme.json"
jq -e '.completed == 4 and .error_total == 0' "$work/acme.json" >/dev/null

if [ "$est" = 1 ]; then
  "$bin/enrollgate-bench" est --smoke --reenroll --base "$EG_DAEMON_URL/.well-known/est/devices" \
    --ca-bundle "$EG_DAEMON_CA" --user device --password "$EG_EST_PASSWORD"
else
  echo "EST smoke skipped: this build has no 'enrollgate est password'"
fi

# A clean stop is part of the check.
eg_stop "$EG_DAEMON_PID"
echo "bench smoke passed"
