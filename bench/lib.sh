# bench/lib.sh — shell helpers shared by bench/compare and tests/bench_smoke: start enrollgated on
# a temporary copy of config/embedded.json (port 0, read back from its first stdout line), create
# EAB credentials, start Pebble, stop everything. Sourced, never run. No sleeps: every wait is a
# blocking read on the program's output with a deadline.
#
# Every process started here is recorded in EG_BENCH_PIDS; eg_stop_all (install it as an EXIT
# trap) stops them with SIGTERM and waits for each.

EG_BENCH_PIDS=()
EG_BENCH_START_TIMEOUT="${EG_BENCH_START_TIMEOUT:-90}"

# eg_stop_all: SIGTERM to every process started here, then waits for them.
eg_stop_all() {
  local pid
  for pid in "${EG_BENCH_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${EG_BENCH_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  EG_BENCH_PIDS=()
}

# eg_stop PID: SIGTERM to one process started here and waits for it; its exit status.
eg_stop() {
  local pid="$1" status=0 kept=() p
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || status=$?
  for p in "${EG_BENCH_PIDS[@]}"; do [ "$p" = "$pid" ] || kept+=("$p"); done
  EG_BENCH_PIDS=("${kept[@]}")
  return "$status"
}

# eg_free_port: a loopback port free right now (bound to 0 and released).
eg_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# eg_write_config WORK_DIR [SOURCE_CONFIG]: a copy of SOURCE_CONFIG (default
# config/embedded.json) in WORK_DIR/enrollgate.json with state in WORK_DIR/state, HTTPS on port 0,
# the emulator on any free port and every EST password hash file under WORK_DIR/state. Sets
# EG_DAEMON_CONFIG.
eg_write_config() {
  local work="$1" source="${2:-$(dirname "${BASH_SOURCE[0]}")/../config/embedded.json}"
  mkdir -p "$work/state"
  EG_DAEMON_CONFIG="$work/enrollgate.json"
  jq --arg state "$work/state" '
    .state_dir = $state | .server.port = 0 | .scm.embedded = ((.scm.embedded // {}) + {port: 0})
    | .accounts |= map(if (.est.basic_users? // null) != null then
        .est.basic_users |= map(if has("password_hash_file") then
          .password_hash_file = ($state + "/est-" + .user + ".pbkdf2") else . end)
      else . end)' "$source" >"$EG_DAEMON_CONFIG"
}

# eg_est_password BIN_DIR ACCOUNT USER: a fresh EST Basic password (enrollgate est password) for
# the config written by eg_write_config, in EG_EST_PASSWORD; fails when the command does not
# exist (EST not built yet). Run it before the daemon starts: it reads the hash at start.
eg_est_password() {
  EG_EST_PASSWORD="$("$1/enrollgate" --config "$EG_DAEMON_CONFIG" est password --account "$2" \
    --user "$3" 2>/dev/null)" && [ -n "$EG_EST_PASSWORD" ]
}

# eg_start_enrollgated BIN_DIR WORK_DIR: starts enrollgated on the config eg_write_config wrote
# and reads its port back. Sets EG_DAEMON_PID, EG_DAEMON_URL (https://127.0.0.1:P) and
# EG_DAEMON_CA (the CA bundle path); its log goes to WORK_DIR/enrollgated.log.
eg_start_enrollgated() {
  local bin="$1" work="$2"
  local fifo="$work/enrollgated.stdout"
  rm -f "$fifo" && mkfifo "$fifo"
  ENROLLGATE_PORT=0 "$bin/enrollgated" --config "$EG_DAEMON_CONFIG" >"$fifo" 2>"$work/enrollgated.log" &
  EG_DAEMON_PID=$!
  EG_BENCH_PIDS+=("$EG_DAEMON_PID")
  exec {EG_DAEMON_FD}<"$fifo"
  rm -f "$fifo"
  EG_DAEMON_URL="" EG_DAEMON_CA=""
  local line
  while IFS= read -r -t "$EG_BENCH_START_TIMEOUT" -u "$EG_DAEMON_FD" line; do
    case "$line" in
      *" listening on https://"*) EG_DAEMON_URL="${line##* listening on }" ;;
      "CA bundle: "*) EG_DAEMON_CA="${line#CA bundle: }" ;;
    esac
    [ -n "$EG_DAEMON_URL" ] && [ -n "$EG_DAEMON_CA" ] && break
  done
  if [ -z "$EG_DAEMON_URL" ] || [ -z "$EG_DAEMON_CA" ]; then
    echo "enrollgated did not start; its log:" >&2
    cat "$work/enrollgated.log" >&2
    return 1
  fi
  cat <&"$EG_DAEMON_FD" >/dev/null &  # drain anything else it prints
  EG_BENCH_PIDS+=("$!")
  exec {EG_DAEMON_FD}<&-
}

# eg_create_eab BIN_DIR COUNT FILE: COUNT fresh EAB credentials for the `web` account of the
# running daemon's config, written to FILE as "KID HMAC" lines (the bench's --eab-file).
eg_create_eab() {
  local bin="$1" count="$2" file="$3" i out
  : >"$file"
  for ((i = 0; i < count; i++)); do
    out="$("$bin/enrollgate" --config "$EG_DAEMON_CONFIG" eab create --account web)" || {
      echo "enrollgate eab create failed: $out" >&2
      return 1
    }
    printf '%s %s\n' "$(sed -n 's/^ *key id  *\([^ ]*\).*/\1/p' <<<"$out")" \
      "$(sed -n 's/^ *HMAC key  *\([^ ]*\).*/\1/p' <<<"$out")" >>"$file"
  done
  if grep -qv '^[^ ][^ ]* [^ ][^ ]*$' "$file"; then
    echo "could not read the EAB credentials from enrollgate eab create" >&2
    return 1
  fi
}

# eg_start_pebble WORK_DIR: Pebble from Debian's package with its own test certificate (made here
# for localhost/127.0.0.1), no sleeps, every challenge valid, no nonce rejection, on free ports.
# Sets EG_PEBBLE_PID, EG_PEBBLE_DIRECTORY and EG_PEBBLE_CA (the bundle that verifies its TLS).
eg_start_pebble() {
  local work="$1"
  mkdir -p "$work"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
  EG_PEBBLE_CA="$work/cert.pem"
  local port mport
  port="$(eg_free_port)" mport="$(eg_free_port)"
  jq -n --arg listen "127.0.0.1:$port" --arg mgmt "127.0.0.1:$mport" \
    --arg cert "$work/cert.pem" --arg key "$work/key.pem" \
    --argjson http "$(eg_free_port)" --argjson tls "$(eg_free_port)" \
    '{pebble: {listenAddress: $listen, managementListenAddress: $mgmt, certificate: $cert,
       privateKey: $key, httpPort: $http, tlsPort: $tls, ocspResponderURL: "",
       externalAccountBindingRequired: false}}' >"$work/pebble.json"
  local fifo="$work/pebble.out"
  rm -f "$fifo" && mkfifo "$fifo"
  PEBBLE_VA_NOSLEEP=1 PEBBLE_VA_ALWAYS_VALID=1 PEBBLE_WFE_NONCEREJECT=0 \
    pebble -config "$work/pebble.json" >"$fifo" 2>&1 &
  EG_PEBBLE_PID=$!
  EG_BENCH_PIDS+=("$EG_PEBBLE_PID")
  exec {EG_PEBBLE_FD}<"$fifo"
  rm -f "$fifo"
  EG_PEBBLE_DIRECTORY=""
  local line
  while IFS= read -r -t "$EG_BENCH_START_TIMEOUT" -u "$EG_PEBBLE_FD" line; do
    printf '%s\n' "$line" >>"$work/pebble.log"
    case "$line" in
      *"ACME directory available at: "*)
        EG_PEBBLE_DIRECTORY="${line##*ACME directory available at: }"
        break
        ;;
    esac
  done
  if [ -z "$EG_PEBBLE_DIRECTORY" ]; then
    echo "pebble did not start; its output:" >&2
    cat "$work/pebble.log" >&2
    return 1
  fi
  # Pebble logs every request: keep draining. (When Pebble 2.4 stops answering under this load,
  # the drain is still reading an empty pipe: a goroutine dump (SIGQUIT) shows a lock-order
  # deadlock in its MemoryStore, FindValidAuthorization vs AddAuthorization, not a full pipe.)
  cat <&"$EG_PEBBLE_FD" >>"$work/pebble.log" &
  EG_BENCH_PIDS+=("$!")
  exec {EG_PEBBLE_FD}<&-
}
