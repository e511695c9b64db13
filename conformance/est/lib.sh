# conformance/est/lib.sh — helpers for run.sh (sourced, not run): reporting, HTTP through curl,
# polling with a deadline, the emulator's REST API, the gateway's store, DER assembly in hex.
# Everything works in $work (a temp dir run.sh makes) and needs bash, curl, openssl, sqlite3,
# python3 (JSON of the config and of the emulator's replies only) and coreutils (basenc).

# -- reporting -----------------------------------------------------------------------------------

passes=0
failures=0
failed_names=()

pass() {
  passes=$((passes + 1))
  printf 'PASS  %s\n' "$1"
}

# fail NAME REASON...: the reason says what was expected and what came instead.
fail() {
  local name="$1"
  shift
  failures=$((failures + 1))
  failed_names+=("$name")
  printf 'FAIL  %s: %s\n' "$name" "$*"
}

# check NAME CONDITION-COMMAND... -- REASON: pass when the command succeeds.
check() {
  local name="$1"
  shift
  local cmd=()
  while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do
    cmd+=("$1")
    shift
  done
  [ "${1:-}" = "--" ] && shift
  if "${cmd[@]}" >/dev/null 2>&1; then
    pass "$name"
  else
    fail "$name" "$*"
  fi
}

section() { printf '\n== %s\n' "$*"; }

die() {
  printf 'FATAL %s\n' "$*" >&2
  exit 1
}

# -- polling -------------------------------------------------------------------------------------

# eventually SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds (0) or SECONDS pass (1).
eventually() {
  local seconds="$1"
  shift
  local deadline=$((SECONDS + seconds))
  while ! "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -ge "$deadline" ] && return 1
    sleep 0.1
  done
  return 0
}

# -- HTTP to the gateway -------------------------------------------------------------------------

# est NAME METHOD PATH [CURL-ARGS...]: one request to the gateway; the status in $status, the
# headers in $work/http/NAME.hdr, the body in $work/http/NAME.body (status 000: no HTTP reply).
est() {
  local name="$1" method="$2" path="$3"
  shift 3
  mkdir -p "$work/http"
  status="$(curl -sS --max-time 30 --cacert "$gateway_ca" -X "$method" \
    -D "$work/http/$name.hdr" -o "$work/http/$name.body" -w '%{http_code}' \
    "$@" "$base_url$path" 2>"$work/http/$name.err")" || true
  [ -n "$status" ] || status=000
}

# hdr NAME HEADER: the value of HEADER (case-insensitive) in response NAME, without CR.
hdr() {
  sed -n "s/^$2:[[:space:]]*//Ip" "$work/http/$1.hdr" | tr -d '\r' | tail -n 1
}

# body NAME: response NAME's body (first 300 bytes, one line) for failure messages.
body() { head -c 300 "$work/http/$1.body" | tr '\r\n' '  '; }

# described NAME: "status S, body: ..." for failure messages.
described() { printf 'status %s, Content-Type "%s", body: %s' "$status" "$(hdr "$1" Content-Type)" "$(body "$1")"; }

# is_plain_reason NAME: the body is a non-empty text/plain reason without internals.
is_plain_reason() {
  local ct
  ct="$(hdr "$1" Content-Type)"
  [[ "$ct" == text/plain* ]] && [ -s "$work/http/$1.body" ] &&
    ! grep -qiE 'exception|std::|segfault|stack|\.cc:[0-9]' "$work/http/$1.body"
}

# post_csr NAME PATH CSR-DER [CURL-ARGS...]: POST the CSR as base64 (76-column lines, with
# Content-Transfer-Encoding: base64, as RFC 7030 clients send it).
post_csr() {
  local name="$1" path="$2" der="$3"
  shift 3
  base64 -w 76 "$der" >"$work/$name.b64"
  est "$name" POST "$path" -H 'Content-Type: application/pkcs10' \
    -H 'Content-Transfer-Encoding: base64' --data-binary "@$work/$name.b64" "$@"
}

# b64d FILE: base64 (lines ending in CRLF or LF) decoded on stdout.
b64d() { tr -d '\r' <"$1" | base64 -d 2>/dev/null; }

# certs_of NAME OUT-PEM: the certificates of a base64 PKCS#7 certs-only body, as PEM.
certs_of() {
  b64d "$work/http/$1.body" >"$work/$1.p7b" &&
    openssl pkcs7 -inform DER -in "$work/$1.p7b" -print_certs -out "$2" 2>/dev/null &&
    grep -q 'BEGIN CERTIFICATE' "$2"
}

# leaf_of PEM-BUNDLE OUT-PEM: the end-entity certificate of a bundle (a PKCS#7 SET OF has no
# order): the first that is not a CA, else the first.
leaf_of() {
  local f
  rm -f "$2".part*
  awk -v out="$2.part" '/-----BEGIN CERTIFICATE-----/ { n++ } n { print > (out n) }' "$1"
  for f in "$2".part*; do
    [ -e "$f" ] || break
    if ! openssl x509 -in "$f" -noout -ext basicConstraints 2>/dev/null | grep -q 'CA:TRUE'; then
      cp "$f" "$2"
      return 0
    fi
  done
  openssl x509 -in "$1" -out "$2" 2>/dev/null
}

# pubkey_of_cert PEM / pubkey_of_key PEM: the SubjectPublicKeyInfo, PEM, for comparison.
pubkey_of_cert() { openssl x509 -in "$1" -noout -pubkey; }
pubkey_of_key() { openssl pkey -in "$1" -pubout; }

serial_of() { openssl x509 -in "$1" -noout -serial | sed 's/^serial=//'; }
subject_of() { openssl x509 -in "$1" -noout -subject -nameopt RFC2253 | sed 's/^subject=//'; }

# -- keys and CSRs -------------------------------------------------------------------------------

# new_key OUT-PEM [CURVE]: an EC key (P-256 unless given).
new_key() { openssl genpkey -algorithm EC -pkeyopt "ec_paramgen_curve:${2:-P-256}" -out "$1" 2>/dev/null; }

# csr KEY SUBJECT OUT-DER [openssl req args...]
csr() {
  local key="$1" subject="$2" out="$3"
  shift 3
  openssl req -new -key "$key" -subj "$subject" -outform DER -out "$out" "$@"
}

# -- the emulator (SCM) --------------------------------------------------------------------------

# scm METHOD PATH [JSON-BODY]: the emulator's REST API as admin; the reply body on stdout.
scm() {
  local args=(-sS --max-time 30 --cacert "$scm_ca" -H login:admin -H password:admin
    -H customerUri:demo -X "$1")
  [ -n "${3:-}" ] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
  curl "${args[@]}" "$scm_url$2"
}

# scm_oauth METHOD PATH: the code-signing API (/api/v1) with a bearer token of the fixture's
# code-signing OAuth client.
scm_oauth() {
  local token
  token="$(curl -sS --max-time 30 --cacert "$scm_ca" -d grant_type=client_credentials \
    -d client_id=codesign -d client_secret=codesign-secret "$scm_url/oauth2/token" |
    json 'j["access_token"]')"
  curl -sS --max-time 30 --cacert "$scm_ca" -H "Authorization: Bearer $token" -X "$1" "$scm_url$2"
}

# json EXPR: evaluates a Python expression over the JSON document on stdin (as j); prints it.
json() { python3 -c 'import json,sys; j=json.load(sys.stdin); r=eval(sys.argv[1]); print(r if not isinstance(r,(dict,list)) else json.dumps(r))' "$1"; }

scm_total() { scm GET /_emulator/stats | json 'j["enrollments"]["total"]'; }

# -- the gateway's store -------------------------------------------------------------------------

sql() { sqlite3 -readonly -separator '|' "$db" "$1"; }

# store_fingerprint: what a request could write (enrollments, certificates, EST tables, the
# emulator's count); the audit log is left out, a refusal is recorded there on purpose.
store_fingerprint() {
  echo "scm total: $(scm_total)"
  sql "SELECT 'enr', id, account, state FROM enrollments ORDER BY id;
       SELECT 'cert', serial_hex, revoked_at FROM certificates ORDER BY serial_hex;"
  local t
  for t in $(sql "SELECT name FROM sqlite_master WHERE type='table' AND name LIKE 'est%' ORDER BY name;"); do
    echo "$t: $(sql "SELECT count(*) FROM \"$t\";")"
  done
}

# -- DER in hex (uppercase, no spaces) -----------------------------------------------------------

hex_of() { basenc --base16 -w 0 <"$1"; }
unhex() { printf '%s' "$1" | tr 'a-f' 'A-F' | basenc --base16 -d; }

# der_len N: the DER length octets of N, hex.
der_len() {
  local n="$1"
  if [ "$n" -lt 128 ]; then
    printf '%02X' "$n"
  elif [ "$n" -lt 256 ]; then
    printf '81%02X' "$n"
  elif [ "$n" -lt 65536 ]; then
    printf '82%04X' "$n"
  else
    printf '83%06X' "$n"
  fi
}

# tlv TAG-HEX CONTENT-HEX: one DER element.
tlv() { printf '%s%s%s' "$1" "$(der_len $((${#2} / 2)))" "$2"; }

# der_content HEX: the contents of the DER element HEX (its tag and length stripped).
der_content() {
  local h="$1" first
  first=$((16#${h:2:2}))
  if [ "$first" -lt 128 ]; then
    printf '%s' "${h:4}"
  else
    printf '%s' "${h:$((4 + 2 * (first - 128)))}"
  fi
}
