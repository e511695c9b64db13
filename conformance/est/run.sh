#!/usr/bin/env bash
# conformance/est/run.sh — the EST acceptance suite (issue 5): the real enrollgated on a copy of
# config/embedded.json, driven the way a device does it, with curl and openssl only.
#
# Usage: conformance/est/run.sh BIN-DIR [SOURCE-DIR]
#   BIN-DIR     where enrollgated and enrollgate are (the build's bin/)
#   SOURCE-DIR  the repository (default: two levels above this script)
# Environment: EG_EST_KEEP=1 keeps the work directory (printed at the end) for a post-mortem.
#
# Prints one PASS/FAIL line per check (a FAIL says what was expected and what came); exits 1 if
# any check failed. Stops every process it started, on any exit.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[ "$#" -ge 1 ] || {
  sed -n '2,10p' "$0"
  exit 2
}
bin="$(cd "$1" && pwd)"
root="$(cd "${2:-$here/../..}" && pwd)"
# shellcheck source=conformance/est/lib.sh
source "$here/lib.sh"

for tool in curl openssl sqlite3 python3 basenc; do
  command -v "$tool" >/dev/null || die "$tool is not installed (scripts/install-deps installs it)"
done
[ -x "$bin/enrollgated" ] && [ -x "$bin/enrollgate" ] || die "no enrollgated/enrollgate in $bin"

work="$(mktemp -d "${TMPDIR:-/tmp}/est-conformance.XXXXXX")"
started=$SECONDS
daemon_pid=""
coproc_pid=""

cleanup() {
  local rc=$?
  if [ -n "$coproc_pid" ]; then kill "$coproc_pid" 2>/dev/null || true; fi
  if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -TERM "$daemon_pid" 2>/dev/null || true
    local deadline=$((SECONDS + 20))
    while kill -0 "$daemon_pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
    kill -KILL "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  if [ "$rc" -ne 0 ] && [ -f "$work/enrollgated.stderr" ]; then
    echo "--- last lines of enrollgated's log ($work/enrollgated.stderr):"
    tail -n 40 "$work/enrollgated.stderr" | cut -c1-400
  fi
  if [ "${EG_EST_KEEP:-0}" = 1 ] || [ "$rc" -ne 0 ]; then
    echo "work directory kept: $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# -- test PKI: a device manufacturer CA (TLS client certificates not issued by the gateway), a
# -- stranger CA (untrusted), HSM attestation roots (trusted and unknown) -------------------------

make_ca() { # NAME SUBJECT: $work/NAME.key, $work/NAME.pem (self-signed CA)
  new_key "$work/$1.key"
  openssl req -x509 -new -key "$work/$1.key" -subj "$2" -days 30 -out "$work/$1.pem" \
    -addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign,cRLSign
}

# issue_from CA CSR-PEM OUT-PEM [EXTFILE]: a certificate over the CSR's key, signed by CA.
issue_from() {
  local ext="${4:-$work/leaf.ext}"
  openssl x509 -req -in "$2" -CA "$work/$1.pem" -CAkey "$work/$1.key" -CAcreateserial \
    -days 30 -extfile "$ext" -out "$3" 2>/dev/null
}

printf 'basicConstraints=critical,CA:false\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' >"$work/leaf.ext"
printf 'basicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign\n' >"$work/ca.ext"

make_ca mfr "/O=Test Device Maker/CN=Test Manufacturer CA"
make_ca stranger "/O=Nobody/CN=Stranger CA"
make_ca hsm-root "/O=Test HSM Vendor/CN=Test HSM Attestation Root"
make_ca rogue-root "/O=Rogue HSM Vendor/CN=Rogue HSM Root"
# The HSM's intermediate (a YubiKey's slot f9 certificate), under each root.
for root_ca in hsm-root rogue-root; do
  new_key "$work/$root_ca-int.key"
  openssl req -new -key "$work/$root_ca-int.key" -subj "/CN=HSM device under $root_ca" \
    -out "$work/$root_ca-int.csr"
  issue_from "$root_ca" "$work/$root_ca-int.csr" "$work/$root_ca-int.pem" "$work/ca.ext"
done

# -- the daemon's configuration --------------------------------------------------------------------

state="$work/state"
config="$work/enrollgate.json"
scm_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

python3 - "$root/config/embedded.json" "$config" "$work" "$scm_port" <<'PY'
import copy, json, sys
src, dst, work, scm_port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
c = json.load(open(src))
c["state_dir"] = work + "/state"
c["log_level"] = "debug"
c["server"]["port"] = 0
c["scm"]["embedded"] = {"port": scm_port}
iss = c.setdefault("issuance", {})
iss.update({"poll_initial_ms": 200, "poll_max_ms": 1000, "poll_tick_ms": 200,
            "revocation_check_s": 1})
accounts = {a["name"]: a for a in c["accounts"]}
for a in c["accounts"]:
    est = a.get("est")
    if est is None:
        continue
    for u in est.get("basic_users", []):  # the hash files `enrollgate est password` writes
        if "password_hash_file" in u:
            u["password_hash_file"] = "%s/est-%s.pbkdf2" % (work, u["user"])
for name in ("devices", "people"):  # TLS client certificates from the test manufacturer CA
    accounts[name]["est"]["client_cert_anchor_files"] = [work + "/mfr.pem"]
# ... and for devices only those whose CN starts with dev-.
accounts["devices"]["est"]["client_cert_subject_pattern"] = "(.*,)?CN=dev-[^,]*(,.*)?"
accounts["codesign"].setdefault("code_signing", {})["attestation_anchor_files"] = [
    work + "/hsm-root.pem"]
# A TLS-terminating proxy at 127.0.0.2 (the suite connects from there with curl --interface).
c.setdefault("est", {})["trusted_proxies"] = ["127.0.0.2/32"]
# devices-approval: the devices label on the emulator's approval device profile 3002.
approval = copy.deepcopy(accounts["devices"])
approval["name"] = "devices-approval"
approval["est"]["label"] = "devices-approval"
approval["est"].pop("client_cert_anchor_files", None)
approval["est"].pop("client_cert_subject_pattern", None)
approval["profiles"][0]["scm_profile_id"] = 3002
approval["profiles"][0]["name"] = "approval"
c["accounts"].append(approval)
# devices-pop: proof of possession linked to the TLS connection.
pop = copy.deepcopy(accounts["devices"])
pop["name"] = "devices-pop"
pop["est"]["label"] = "devices-pop"
pop["est"]["link_pop_to_tls"] = True
pop["est"].pop("client_cert_anchor_files", None)
pop["est"].pop("client_cert_subject_pattern", None)
c["accounts"].append(pop)
json.dump(c, open(dst, "w"), indent=2)
PY

admin() { "$bin/enrollgate" --config "$config" "$@"; }

# The Basic passwords, as scripts/run makes the device's before starting the daemon.
declare -A password
for pair in devices:device people:person codesign:signer; do
  account="${pair%%:*}" user="${pair#*:}"
  if pw="$(admin est password --account "$account" --user "$user" 2>"$work/est-password.err")" &&
    [ -n "$pw" ]; then
    password[$user]="$(printf '%s\n' "$pw" | tail -n 1)"
  else
    die "enrollgate est password --account $account --user $user failed: $(cat "$work/est-password.err")"
  fi
done

# -- start the daemon ------------------------------------------------------------------------------

ENROLLGATE_PORT=0 "$bin/enrollgated" --config "$config" >"$work/enrollgated.stdout" \
  2>"$work/enrollgated.stderr" &
daemon_pid=$!
started_up() { grep -q '^CA bundle: ' "$work/enrollgated.stdout" || ! kill -0 "$daemon_pid"; }
eventually 90 started_up || die "enrollgated did not start within 90 s"
kill -0 "$daemon_pid" 2>/dev/null || die "enrollgated exited at start: $(tail -n 20 "$work/enrollgated.stderr")"
base_url="$(sed -n 's/.* listening on \(https:\/\/[^ ]*\)$/\1/p' "$work/enrollgated.stdout")"
gateway_ca="$(sed -n 's/^CA bundle: //p' "$work/enrollgated.stdout")"
[ -n "$base_url" ] && [ -s "$gateway_ca" ] || die "no 'listening on' URL or CA bundle: $(cat "$work/enrollgated.stdout")"
scm_url="https://127.0.0.1:$scm_port"
scm_ca="$state/scm-emulator/ca.pem"
db="$state/enrollgate.db"
[ -s "$scm_ca" ] || die "no emulator CA at $scm_ca"
echo "enrollgated at $base_url (emulator $scm_url), work directory $work"

# shellcheck source=conformance/est/cases.sh
source "$here/cases.sh"
# shellcheck source=conformance/est/security.sh
source "$here/security.sh"

run_cases

section "shutdown"
kill -TERM "$daemon_pid"
daemon_exited() { ! kill -0 "$daemon_pid"; }
if eventually 30 daemon_exited; then
  rc=0
  wait "$daemon_pid" || rc=$?
  daemon_pid=""
  [ "$rc" = 0 ] && pass "enrollgated stops cleanly on SIGTERM" ||
    fail "enrollgated stops cleanly" "exit status $rc"
else
  fail "enrollgated stops cleanly" "still running 30 s after SIGTERM"
fi

section "summary"
printf '%d passed, %d failed in %d s\n' "$passes" "$failures" "$((SECONDS - started))"
if [ "$failures" -gt 0 ]; then
  printf 'failed: %s\n' "${failed_names[*]}"
  exit 1
fi
