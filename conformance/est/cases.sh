# conformance/est/cases.sh — the checks of the EST acceptance suite (sourced by run.sh, which has
# started the daemon and set $base_url, $gateway_ca, $scm_url, $scm_ca, $db, $work, password[]).
# Each acceptance item of issue 5 is one function; run_cases runs them in order.

est_path() { printf '/.well-known/est/%s' "$1"; } # est_path LABEL -> /.well-known/est/LABEL

uniq_n=0
uniq() { # a fresh suffix for names, so each enrollment is told apart in the emulator
  uniq_n=$((uniq_n + 1))
  printf '%s%d' "$(date +%s%N | tail -c 7)" "$uniq_n"
}

# subject LABEL TAG: a subject the label's account allows (a device id; a person with an email).
subject() {
  local u
  u="$(uniq)"
  case "$1" in
    people) printf '/CN=Pat %s/emailAddress=pat.%s.%s@example.test' "$2" "$2" "$u" ;;
    codesign) printf '/CN=Sam %s/emailAddress=sam.%s.%s@example.test' "$2" "$2" "$u" ;;
    *) printf '/CN=dev-%s-%s/serialNumber=%s' "$2" "$u" "$u" ;;
  esac
}

basic_user() { # the Basic user of a label's account
  case "$1" in
    people) echo person ;;
    codesign) echo signer ;;
    *) echo device ;;
  esac
}
basic() { local u; u="$(basic_user "$1")"; printf -- '-u\n%s:%s\n' "$u" "${password[$u]}"; }

# subject_slash PEM: the certificate's subject as openssl req -subj takes it.
subject_slash() { openssl x509 -in "$1" -noout -subject -nameopt compat | sed 's/^subject=//'; }

# reenroll_csr CERT KEY OUT-DER: the CSR a device sends to re-enroll CERT: the certificate's
# subject and subjectAltNames (RFC 7030 §4.2.2), signed with KEY (the old key or a new one).
reenroll_csr() {
  local sans
  sans="$(openssl x509 -in "$1" -noout -ext subjectAltName 2>/dev/null | sed -n '2,$p' |
    sed 's/^ *//; s/IP Address:/IP:/g; s/, /,/g' | tr -d '\n')"
  if [ -n "$sans" ]; then
    csr "$2" "$(subject_slash "$1")" "$3" -addext "subjectAltName=$sans"
  else
    csr "$2" "$(subject_slash "$1")" "$3"
  fi
}

# client_identity CA NAME SUBJECT: a key ($work/NAME.key) and a TLS client certificate for it
# ($work/NAME.pem) issued by the test CA.
client_identity() {
  new_key "$work/$2.key"
  openssl req -new -key "$work/$2.key" -subj "$3" -out "$work/$2.req"
  issue_from "$1" "$work/$2.req" "$work/$2.pem"
}

# expect_cert NAME CHECK-PREFIX KEY-PEM: response NAME is 200 certs-only PKCS#7 whose first
# certificate carries KEY-PEM's public key and chains to the cacerts bundle; leaf in $work/NAME.pem.
expect_cert() {
  local name="$1" check="$2" key="$3" ct
  if [ "$status" != 200 ]; then
    fail "$check" "expected 200 with a certificate, got $(described "$name")"
    return 1
  fi
  ct="$(hdr "$name" Content-Type)"
  if [[ "$ct" != application/pkcs7-mime* ]] || [[ "$ct" != *certs-only* ]]; then
    fail "$check" "Content-Type \"$ct\", expected application/pkcs7-mime; smime-type=certs-only"
    return 1
  fi
  if ! certs_of "$name" "$work/$name.chain.pem" || ! leaf_of "$work/$name.chain.pem" "$work/$name.pem"; then
    fail "$check" "the body is not a base64 certs-only PKCS#7: $(body "$name")"
    return 1
  fi
  if [ -n "$key" ] && [ "$(pubkey_of_cert "$work/$name.pem")" != "$(pubkey_of_key "$key")" ]; then
    fail "$check" "the certificate's public key is not the CSR's"
    return 1
  fi
  if [ -s "$work/cacerts.pem" ] &&
    ! openssl verify -partial_chain -CAfile "$work/cacerts.pem" "$work/$name.pem" >"$work/$name.verify" 2>&1; then
    fail "$check" "the certificate does not chain to /cacerts: $(tr '\n' ' ' <"$work/$name.verify")"
    return 1
  fi
  pass "$check"
}

# expect_refusal NAME CHECK STATUS BEFORE-FINGERPRINT [REASON-REGEX]: response NAME has STATUS
# and a plain-text reason (matching REASON-REGEX, case-insensitive), and the store and the
# emulator are as in BEFORE.
expect_refusal() {
  local name="$1" check="$2" want="$3" before="$4" regex="${5:-}"
  if [ "$status" != "$want" ]; then
    fail "$check" "expected $want, got $(described "$name")"
  elif ! is_plain_reason "$name"; then
    fail "$check" "status $want but no plain-text reason: $(described "$name")"
  elif [ -n "$regex" ] && ! grep -qiE "$regex" "$work/http/$name.body"; then
    fail "$check" "status $want, but the reason does not say /$regex/: $(body "$name")"
  else
    pass "$check ($want: $(body "$name"))"
  fi
  local after
  after="$(store_fingerprint)"
  if [ "$after" = "$before" ]; then
    pass "$check: nothing written"
  else
    fail "$check: nothing written" "the store or the emulator changed: $(diff <(echo "$before") <(echo "$after") | tr '\n' ' ' | head -c 400)"
  fi
}

# -- acceptance 1: every operation, for a device label and a person label ------------------------

acceptance_1() {
  section "acceptance 1: cacerts, simpleenroll (Basic, TLS client certificate), simplereenroll, csrattrs, serverkeygen"
  est cacerts-default GET "$(est_path cacerts)"
  if [ "$status" = 200 ] && certs_of cacerts-default "$work/cacerts.pem"; then
    if grep -q "$(sed -n '2p' "$scm_ca")" "$work/cacerts.pem" ||
      openssl verify -CAfile "$work/cacerts.pem" "$scm_ca" >/dev/null 2>&1; then
      pass "cacerts (default label): PKCS#7 with the issuing CA ($(grep -c 'BEGIN CERT' "$work/cacerts.pem") certificates)"
    else
      fail "cacerts (default label)" "the PKCS#7 does not hold the emulator's CA"
    fi
    [[ "$(hdr cacerts-default Content-Type)" == application/pkcs7-mime* ]] &&
      pass "cacerts: Content-Type application/pkcs7-mime" ||
      fail "cacerts: Content-Type" "got \"$(hdr cacerts-default Content-Type)\""
  else
    rm -f "$work/cacerts.pem"
    fail "cacerts (default label)" "expected 200 and a base64 PKCS#7, got $(described cacerts-default)"
  fi
  # The default label (no label in the path) is devices.
  local -a dev_auth
  mapfile -t dev_auth < <(basic devices)
  new_key "$work/default.key"
  csr "$work/default.key" "$(subject devices default)" "$work/default.csr"
  post_csr default "$(est_path simpleenroll)" "$work/default.csr" "${dev_auth[@]}"
  expect_cert default "simpleenroll without a label (the default, devices)" "$work/default.key" || true

  local label
  for label in devices people; do
    operations "$label"
  done
}

operations() {
  local label="$1" p
  p="$(est_path "$label")"
  local -a auth
  mapfile -t auth < <(basic "$label")

  est "$label-cacerts" GET "$p/cacerts"
  if [ "$status" = 200 ] && certs_of "$label-cacerts" "$work/$label-cacerts.pem"; then
    pass "$label: cacerts decodes with openssl pkcs7 -print_certs"
  else
    fail "$label: cacerts" "expected 200 and a base64 PKCS#7, got $(described "$label-cacerts")"
  fi

  # simpleenroll with HTTP Basic; the CSR as base64 with Content-Transfer-Encoding.
  local s
  new_key "$work/$label-basic.key"
  s="$(subject "$label" basic)"
  csr "$work/$label-basic.key" "$s" "$work/$label-basic.csr"
  post_csr "$label-basic" "$p/simpleenroll" "$work/$label-basic.csr" "${auth[@]}"
  if expect_cert "$label-basic" "$label: simpleenroll with Basic" "$work/$label-basic.key"; then
    local cte
    cte="$(hdr "$label-basic" Content-Transfer-Encoding)"
    [ "${cte,,}" = base64 ] && pass "$label: the reply says Content-Transfer-Encoding: base64" ||
      fail "$label: Content-Transfer-Encoding" "expected base64 (RFC 7030 §4.2.3), got \"$cte\""
  fi

  # Without Content-Transfer-Encoding (RFC 8951), CRLF line breaks.
  new_key "$work/$label-crlf.key"
  csr "$work/$label-crlf.key" "$(subject "$label" crlf)" "$work/$label-crlf.csr"
  base64 -w 64 "$work/$label-crlf.csr" | sed 's/$/\r/' >"$work/$label-crlf.b64"
  est "$label-crlf" POST "$p/simpleenroll" -H 'Content-Type: application/pkcs10' \
    --data-binary "@$work/$label-crlf.b64" "${auth[@]}"
  expect_cert "$label-crlf" "$label: simpleenroll, no Content-Transfer-Encoding, CRLF-wrapped base64" "$work/$label-crlf.key" || true

  # simpleenroll with a TLS client certificate from the (trusted) manufacturer CA, no Basic.
  s="$(subject "$label" tls)"
  client_identity mfr "$label-tls-id" "$s"
  csr "$work/$label-tls-id.key" "$s" "$work/$label-tls.csr"
  post_csr "$label-tls" "$p/simpleenroll" "$work/$label-tls.csr" \
    --cert "$work/$label-tls-id.pem" --key "$work/$label-tls-id.key"
  expect_cert "$label-tls" "$label: simpleenroll with a TLS client certificate (manufacturer CA)" "$work/$label-tls-id.key" || true

  # simplereenroll with the certificate the gateway issued: same key, then a new key.
  if [ -s "$work/$label-basic.pem" ]; then
    reenroll_csr "$work/$label-basic.pem" "$work/$label-basic.key" "$work/$label-re-same.csr"
    post_csr "$label-re-same" "$p/simplereenroll" "$work/$label-re-same.csr" \
      --cert "$work/$label-basic.pem" --key "$work/$label-basic.key"
    if expect_cert "$label-re-same" "$label: simplereenroll, same key" "$work/$label-basic.key"; then
      check "$label: simplereenroll gives a new certificate with the same subject" \
        test "$(serial_of "$work/$label-re-same.pem")" != "$(serial_of "$work/$label-basic.pem")" -a \
        "$(subject_of "$work/$label-re-same.pem")" = "$(subject_of "$work/$label-basic.pem")" -- \
        "serial $(serial_of "$work/$label-re-same.pem") vs $(serial_of "$work/$label-basic.pem"), subject '$(subject_of "$work/$label-re-same.pem")' vs '$(subject_of "$work/$label-basic.pem")'"
    fi
    if [ "$label" = devices ] && [ -s "$work/$label-re-same.pem" ]; then
      scm_renewed "$label: simplereenroll is an SCM renew of the certificate" "$work/$label-basic.pem"
    fi
    local cur="$label-re-same" cur_key="$work/$label-basic.key"
    [ -s "$work/$label-re-same.pem" ] || cur="$label-basic"
    new_key "$work/$label-re-new.key" P-384
    reenroll_csr "$work/$cur.pem" "$work/$label-re-new.key" "$work/$label-re-new.csr"
    post_csr "$label-re-new" "$p/simplereenroll" "$work/$label-re-new.csr" \
      --cert "$work/$cur.pem" --key "$cur_key"
    expect_cert "$label-re-new" "$label: simplereenroll, new key (P-384)" "$work/$label-re-new.key" || true
  else
    fail "$label: simplereenroll" "skipped: simpleenroll with Basic gave no certificate"
  fi

  # csrattrs
  est "$label-csrattrs" GET "$p/csrattrs"
  if [ "$status" = 200 ] && b64d "$work/http/$label-csrattrs.body" >"$work/$label-csrattrs.der" &&
    openssl asn1parse -inform DER -in "$work/$label-csrattrs.der" >"$work/$label-csrattrs.txt" 2>&1; then
    if [[ "$(hdr "$label-csrattrs" Content-Type)" != application/csrattrs* ]]; then
      fail "$label: csrattrs" "Content-Type \"$(hdr "$label-csrattrs" Content-Type)\", expected application/csrattrs"
    elif grep -qE 'id-ecPublicKey|rsaEncryption|prime256v1|secp384r1' "$work/$label-csrattrs.txt"; then
      pass "$label: csrattrs decodes with openssl asn1parse and names the key types ($(grep -oE 'id-ecPublicKey|rsaEncryption|prime256v1|secp384r1' "$work/$label-csrattrs.txt" | sort -u | tr '\n' ' '))"
    else
      fail "$label: csrattrs" "decodes, but names no key type: $(tr -s ' \n' ' ' <"$work/$label-csrattrs.txt" | head -c 300)"
    fi
  else
    fail "$label: csrattrs" "expected 200 and base64 DER, got $(described "$label-csrattrs")"
  fi

  serverkeygen "$label" "$p" "${auth[@]}"
}

# scm_renewed CHECK OLD-CERT: the emulator holds a device enrollment renewed from OLD-CERT's.
scm_renewed() {
  local cn rows
  cn="$(openssl x509 -in "$2" -noout -subject -nameopt multiline | sed -n 's/^ *commonName *= *//p')"
  rows="$(scm GET "/api/device/v1?commonName=$cn")"
  local ids id from=""
  ids="$(printf '%s' "$rows" | json '" ".join(str(r["deviceCertId"]) for r in j)')"
  for id in $ids; do
    from="$(scm GET "/api/device/v1/$id" | json 'j.get("renewedFrom", "")')"
    [ -n "$from" ] && break
  done
  if [ -n "$from" ]; then
    pass "$1 (enrollment $id renewedFrom $from)"
  else
    fail "$1" "no enrollment for CN=$cn in the emulator says renewedFrom (enrollments: $ids)"
  fi
}

# keygen_reply NAME: splits response NAME (multipart/mixed) into $work/NAME.key (the PKCS#8
# part, PEM) and $work/NAME.pem (the first certificate of the PKCS#7 part); on failure prints why
# and returns 1.
keygen_reply() {
  local name="$1" ct boundary
  ct="$(hdr "$name" Content-Type)"
  if [ "$status" != 200 ] || [[ "$ct" != multipart/mixed* ]]; then
    echo "expected 200 multipart/mixed, got $(described "$name")"
    return 1
  fi
  boundary="$(printf '%s' "$ct" | sed -n 's/.*boundary="\{0,1\}\([^";]*\)"\{0,1\}.*/\1/Ip')"
  [ -n "$boundary" ] || {
    echo "no boundary in Content-Type \"$ct\""
    return 1
  }
  # Part N's headers in NAME.partN.hdr, its body in NAME.partN.body.
  rm -f "$work/$name".part*
  awk -v b="--$boundary" -v out="$work/$name.part" '
    { sub(/\r$/, "") }
    $0 == b || $0 == b "--" { n++; inhdr = 1; next }
    n > 0 && inhdr && $0 == "" { inhdr = 0; next }
    n > 0 && inhdr { print > (out n ".hdr"); next }
    n > 0 { print > (out n ".body") }' "$work/http/$name.body"
  local key_part="" cert_part="" f
  for f in "$work/$name".part*.hdr; do
    [ -e "$f" ] || continue
    if grep -qi '^content-type:.*application/pkcs8' "$f"; then key_part="${f%.hdr}.body"; fi
    if grep -qi '^content-type:.*application/pkcs7-mime' "$f"; then cert_part="${f%.hdr}.body"; fi
  done
  if [ -z "$key_part" ] || [ -z "$cert_part" ]; then
    echo "expected an application/pkcs8 part and an application/pkcs7-mime part (boundary $boundary): $(body "$name")"
    return 1
  fi
  if ! b64d "$key_part" >"$work/$name.p8" ||
    ! openssl pkey -inform DER -in "$work/$name.p8" -out "$work/$name.key" 2>/dev/null; then
    echo "the application/pkcs8 part is not a base64 PKCS#8 private key"
    return 1
  fi
  if ! b64d "$cert_part" >"$work/$name.p7b" ||
    ! openssl pkcs7 -inform DER -in "$work/$name.p7b" -print_certs -out "$work/$name.chain.pem" 2>/dev/null ||
    ! leaf_of "$work/$name.chain.pem" "$work/$name.pem"; then
    echo "the application/pkcs7-mime part is not a base64 certs-only PKCS#7"
    return 1
  fi
}

# serverkeygen LABEL PATH CURL-AUTH...: the returned key matches the returned certificate.
serverkeygen() {
  local label="$1" p="$2"
  shift 2
  local name="$label-skg" check="$label: serverkeygen" why
  new_key "$work/$name-csr.key"
  csr "$work/$name-csr.key" "$(subject "$label" skg)" "$work/$name.csr"
  post_csr "$name" "$p/serverkeygen" "$work/$name.csr" "$@"
  if ! why="$(keygen_reply "$name")"; then
    fail "$check" "$why"
    return
  fi
  if [ "$(pubkey_of_cert "$work/$name.pem")" != "$(pubkey_of_key "$work/$name.key")" ]; then
    fail "$check" "the returned private key does not match the returned certificate"
    return
  elif [ "$(pubkey_of_key "$work/$name.key")" = "$(pubkey_of_key "$work/$name-csr.key")" ]; then
    fail "$check" "the returned key is the CSR's own key, not one the server generated"
    return
  fi
  pass "$check: multipart with a PKCS#8 key matching the certificate ($(openssl pkey -in "$work/$name.key" -noout -text 2>/dev/null | head -n 1))"
  # The same request again (a device that lost the reply): the same key and certificate, and
  # no second SCM enrollment.
  local total
  total="$(scm_total)"
  est "$name-again" POST "$p/serverkeygen" -H 'Content-Type: application/pkcs10' \
    -H 'Content-Transfer-Encoding: base64' --data-binary "@$work/$name.b64" "$@"
  if ! why="$(keygen_reply "$name-again")"; then
    fail "$check: repeated request" "$why"
  elif ! cmp -s "$work/$name.key" "$work/$name-again.key" || ! cmp -s "$work/$name.pem" "$work/$name-again.pem"; then
    fail "$check: repeated request" "a different key or certificate than the first reply"
  elif [ "$(scm_total)" != "$total" ]; then
    fail "$check: repeated request" "SCM enrollments went from $total to $(scm_total)"
  else
    pass "$check: the same request again returns the same key and certificate, no new SCM enrollment"
  fi
}

# -- acceptance 2: a label whose SCM profile needs approval --------------------------------------

acceptance_2() {
  section "acceptance 2: approval: 202 + Retry-After, approve in SCM, retry -> 200, one enrollment"
  local label=devices-approval p s cn
  p="$(est_path "$label")"
  local -a auth
  mapfile -t auth < <(basic devices)
  new_key "$work/appr.key"
  s="$(subject devices appr)"
  cn="$(printf '%s' "$s" | sed 's/^\/CN=\([^/]*\).*/\1/')"
  csr "$work/appr.key" "$s" "$work/appr.csr"
  post_csr appr-1 "$p/simpleenroll" "$work/appr.csr" "${auth[@]}"
  local ra
  ra="$(hdr appr-1 Retry-After)"
  if [ "$status" = 202 ] && [[ "$ra" =~ ^[0-9]+$ ]] && [ "$ra" -ge 1 ]; then
    pass "approval: first request answers 202 with Retry-After: $ra"
  else
    fail "approval: 202 + Retry-After" "got $(described appr-1), Retry-After \"$ra\""
  fi
  # The gateway submitted exactly one enrollment to SCM, still awaiting approval.
  local list id
  enrolled_once() { [ "$(scm GET "/api/device/v1?commonName=$cn" | json 'len(j)')" = 1 ]; }
  if ! eventually 20 enrolled_once; then
    fail "approval: one SCM enrollment" "SCM lists $(scm GET "/api/device/v1?commonName=$cn" | json 'len(j)') enrollments for CN=$cn"
    return
  fi
  post_csr appr-2 "$p/simpleenroll" "$work/appr.csr" "${auth[@]}"
  [ "$status" = 202 ] && pass "approval: the same request again before approval: 202 again" ||
    fail "approval: repeat before approval" "expected 202, got $(described appr-2)"
  id="$(scm GET "/api/device/v1?commonName=$cn" | json 'j[0]["deviceCertId"]')"
  scm POST "/api/device/v1/approve/$id" '{"message": "approved by the EST conformance suite"}' >"$work/approve.out"
  list="$(scm GET "/api/device/v1/$id" | json 'j["status"]')"
  pass "approval: approved enrollment $id in the emulator (status now $list)"
  # The device repeats the same request (as Retry-After says) until it gets the certificate.
  issued() {
    post_csr appr-3 "$p/simpleenroll" "$work/appr.csr" "${auth[@]}"
    [ "$status" != 202 ]
  }
  if eventually 30 issued; then
    expect_cert appr-3 "approval: the repeated request gets 200 with the certificate" "$work/appr.key" || true
  else
    fail "approval: retry after approval" "still 202 after 30 s: $(described appr-3)"
  fi
  local n
  n="$(scm GET "/api/device/v1?commonName=$cn" | json 'len(j)')"
  [ "$n" = 1 ] && pass "approval: the emulator shows exactly one enrollment for CN=$cn" ||
    fail "approval: one enrollment" "the emulator shows $n enrollments for CN=$cn"
}

# -- acceptance 3: refusals: status, plain-text reason, nothing written --------------------------

acceptance_3() {
  section "acceptance 3: refusals (status + plain-text reason, nothing written)"
  local label=devices p before
  p="$(est_path "$label")"
  local -a auth
  mapfile -t auth < <(basic devices)
  new_key "$work/neg.key"
  csr "$work/neg.key" "$(subject devices neg)" "$work/neg.csr"

  before="$(store_fingerprint)"
  post_csr neg-wrong-pw "$p/simpleenroll" "$work/neg.csr" -u "device:not-the-password"
  expect_refusal neg-wrong-pw "wrong password" 403 "$before"

  post_csr neg-no-auth "$p/simpleenroll" "$work/neg.csr"
  expect_refusal neg-no-auth "missing credentials" 401 "$before"
  local www
  www="$(hdr neg-no-auth WWW-Authenticate)"
  [[ "$www" == Basic* ]] && pass "missing credentials: WWW-Authenticate: $www" ||
    fail "missing credentials: WWW-Authenticate" "expected a Basic challenge, got \"$www\""

  client_identity stranger stranger-id "/CN=dev-stranger"
  csr "$work/stranger-id.key" "/CN=dev-stranger" "$work/stranger.csr"
  post_csr neg-untrusted "$p/simpleenroll" "$work/stranger.csr" \
    --cert "$work/stranger-id.pem" --key "$work/stranger-id.key"
  expect_refusal neg-untrusted "untrusted TLS client certificate" 403 "$before"

  # Trusted manufacturer CA, but a subject outside the label's client_cert_subject_pattern.
  client_identity mfr intruder-id "/CN=intruder"
  csr "$work/intruder-id.key" "/CN=intruder" "$work/intruder.csr"
  post_csr neg-pattern "$p/simpleenroll" "$work/intruder.csr" \
    --cert "$work/intruder-id.pem" --key "$work/intruder-id.key"
  expect_refusal neg-pattern "TLS client certificate outside the label's subject rule" 403 "$before" 'subject'

  # A gateway-issued certificate whose subject the reenroll CSR does not keep (RFC 7030 §4.2.2).
  local issued=devices-basic
  if [ -s "$work/devices-re-new.pem" ]; then issued=devices-re-new; fi
  local issued_key="$work/devices-basic.key"
  [ "$issued" = devices-re-new ] && issued_key="$work/devices-re-new.key"
  if [ -s "$work/$issued.pem" ]; then
    csr "$issued_key" "/CN=someone-else/serialNumber=1" "$work/neg-subject.csr"
    post_csr neg-subject "$p/simplereenroll" "$work/neg-subject.csr" \
      --cert "$work/$issued.pem" --key "$issued_key"
    expect_refusal neg-subject "simplereenroll with a CSR whose subject differs from the certificate" 400 "$before" 'subject|match|differ'
  else
    fail "simplereenroll with another subject" "skipped: no certificate issued by acceptance 1"
  fi

  # simplereenroll with a client certificate the gateway did not issue (manufacturer CA).
  if [ -s "$work/devices-tls-id.pem" ]; then
    reenroll_csr "$work/devices-tls-id.pem" "$work/devices-tls-id.key" "$work/neg-re-foreign.csr"
    post_csr neg-re-foreign "$p/simplereenroll" "$work/neg-re-foreign.csr" \
      --cert "$work/devices-tls-id.pem" --key "$work/devices-tls-id.key"
    if [ "$status" = 403 ] || [ "$status" = 401 ] || [ "$status" = 400 ]; then
      expect_refusal neg-re-foreign "simplereenroll with a certificate the gateway did not issue" "$status" "$before"
    else
      expect_refusal neg-re-foreign "simplereenroll with a certificate the gateway did not issue" 403 "$before"
    fi
  fi

  # simplereenroll with a certificate the gateway issued for another label (people).
  if [ -s "$work/people-basic.pem" ]; then
    reenroll_csr "$work/people-basic.pem" "$work/people-basic.key" "$work/neg-re-label.csr"
    post_csr neg-re-label "$p/simplereenroll" "$work/neg-re-label.csr" \
      --cert "$work/people-basic.pem" --key "$work/people-basic.key"
    expect_refusal neg-re-label "simplereenroll on devices with a certificate issued for people" 403 "$before"
  fi

  # simplereenroll with a password and no certificate: there is nothing to renew.
  post_csr neg-re-basic "$p/simplereenroll" "$work/neg.csr" "${auth[@]}"
  case "$status" in
    400 | 401 | 403) expect_refusal neg-re-basic "simplereenroll with Basic and no client certificate" "$status" "$before" ;;
    *) expect_refusal neg-re-basic "simplereenroll with Basic and no client certificate" 403 "$before" ;;
  esac

  new_key "$work/p521.key" P-521
  csr "$work/p521.key" "$(subject devices p521)" "$work/neg-keytype.csr"
  post_csr neg-keytype "$p/simpleenroll" "$work/neg-keytype.csr" "${auth[@]}"
  expect_refusal neg-keytype "CSR with a key type the profile does not allow (EC P-521)" 400 "$before" 'key'

  est neg-garbage POST "$p/simpleenroll" -H 'Content-Type: application/pkcs10' \
    --data-binary 'this is not base64 and not a CSR %%%' "${auth[@]}"
  expect_refusal neg-garbage "garbage body" 400 "$before"

  printf 'hello, I am not a certification request' | base64 >"$work/notcsr.b64"
  est neg-notcsr POST "$p/simpleenroll" -H 'Content-Type: application/pkcs10' \
    -H 'Content-Transfer-Encoding: base64' --data-binary "@$work/notcsr.b64" "${auth[@]}"
  expect_refusal neg-notcsr "base64 that is not a CSR" 400 "$before"

  # A CSR whose signature does not verify (last byte of the signature changed).
  cp "$work/neg.csr" "$work/neg-badsig.csr"
  local size last
  size="$(stat -c %s "$work/neg-badsig.csr")"
  last="$(tail -c 1 "$work/neg-badsig.csr" | basenc --base16)"
  unhex "$(printf '%02X' $(((16#$last) ^ 1)))" |
    dd of="$work/neg-badsig.csr" bs=1 seek=$((size - 1)) conv=notrunc 2>/dev/null
  post_csr neg-badsig "$p/simpleenroll" "$work/neg-badsig.csr" "${auth[@]}"
  expect_refusal neg-badsig "CSR with a bad signature" 400 "$before"

  head -c 70000 /dev/zero | tr '\0' 'A' >"$work/oversize.b64"
  est neg-oversize POST "$p/simpleenroll" -H 'Content-Type: application/pkcs10' \
    --data-binary "@$work/oversize.b64" "${auth[@]}"
  expect_refusal neg-oversize "oversize body (70000 bytes)" 413 "$before"

  base64 -w 76 "$work/neg.csr" >"$work/neg.b64"
  est neg-label POST "$(est_path no-such-label)/simpleenroll" -H 'Content-Type: application/pkcs10' \
    --data-binary "@$work/neg.b64" "${auth[@]}"
  expect_refusal neg-label "unknown label" 404 "$before"

  est neg-fullcmc POST "$p/fullcmc" -H 'Content-Type: application/pkcc' --data-binary "@$work/neg.b64" "${auth[@]}"
  expect_refusal neg-fullcmc "fullcmc" 501 "$before"

  revoked_reenroll
}

# A certificate the gateway issued and that was revoked (in SCM; the gateway's revocation sweep
# learns of it) cannot re-enroll.
revoked_reenroll() {
  local p before
  p="$(est_path devices)"
  local -a auth
  mapfile -t auth < <(basic devices)
  new_key "$work/rev.key"
  csr "$work/rev.key" "$(subject devices rev)" "$work/rev.csr"
  post_csr rev "$p/simpleenroll" "$work/rev.csr" "${auth[@]}"
  expect_cert rev "revoked: enroll the certificate to revoke" "$work/rev.key" || return 0
  local serial
  serial="$(serial_of "$work/rev.pem")"
  scm POST "/api/device/v1/revoke/serial/$serial" '{"reasonCode": 1, "reason": "key compromise (EST conformance)"}' >"$work/revoke.out"
  gateway_knows_revoked() {
    [ "$(sql "SELECT count(*) FROM certificates WHERE revoked_at IS NOT NULL AND
             ltrim(lower(replace(serial_hex, ':', '')), '0') = ltrim(lower('$serial'), '0');")" = 1 ]
  }
  if ! eventually 30 gateway_knows_revoked; then
    fail "revoked certificate on reenroll" "the gateway's store does not mark serial $serial revoked 30 s after SCM revoked it (emulator said: $(head -c 200 "$work/revoke.out"))"
    return
  fi
  pass "revoked: SCM revoked serial $serial and the gateway's store knows"
  before="$(store_fingerprint)"
  reenroll_csr "$work/rev.pem" "$work/rev.key" "$work/rev-re.csr"
  post_csr rev-re "$p/simplereenroll" "$work/rev-re.csr" --cert "$work/rev.pem" --key "$work/rev.key"
  expect_refusal rev-re "revoked certificate on reenroll" 403 "$before" 'revoked'
}

# -- acceptance 4: code signing with key attestation in the CSR ----------------------------------

# OIDs (DER, hex): id-aa-attestation (evidence) 1.2.840.113549.1.9.16.2.59, the statement type
# x509Certificate 1.2.840.113549.1.9.22.1, ecdsa-with-SHA256.
oid_attestation=060B2A864886F70D010910023B
oid_x509_statement=060A2A864886F70D01091601
alg_ecdsa_sha256=300A06082A8648CE3D040302

# attested_csr KEY SUBJECT ATTESTATION-CERT INTERMEDIATE-CERT OUT-DER: a CSR signed by KEY whose
# attributes hold the attestation (draft-ietf-lamps-csr-attestation AttestationBundle: one
# x509Certificate statement with the attestation certificate, the intermediate in `certs`).
attested_csr() {
  local key="$1" subject="$2" att="$3" int="$4" out="$5"
  openssl req -new -key "$key" -subj "$subject" -outform DER -out "$out.base" || return 1
  # The CertificationRequestInfo: the first element of the CSR; it ends with "A000" (no
  # attributes), which the attestation attribute replaces.
  local csr_hex cri_hex cri_content
  csr_hex="$(hex_of "$out.base")"
  cri_hex="$(der_content "$csr_hex")"
  local cri_len_hex="${cri_hex:2:2}" cri_total
  if [ $((16#$cri_len_hex)) -lt 128 ]; then
    cri_total=$((2 + 16#$cri_len_hex))
  else
    local nb=$((16#$cri_len_hex - 128))
    cri_total=$((2 + nb + 16#${cri_hex:4:$((2 * nb))}))
  fi
  cri_hex="${cri_hex:0:$((2 * cri_total))}"
  cri_content="$(der_content "$cri_hex")"
  [ "${cri_content: -4}" = A000 ] || {
    echo "attested_csr: unexpected CSR attributes" >&2
    return 1
  }
  cri_content="${cri_content:0:$((${#cri_content} - 4))}"
  local att_der int_der statement bundle attribute
  att_der="$(openssl x509 -in "$att" -outform DER | basenc --base16 -w 0)"
  int_der="$(openssl x509 -in "$int" -outform DER | basenc --base16 -w 0)"
  statement="$(tlv 30 "$oid_x509_statement$att_der")"
  bundle="$(tlv 30 "$(tlv 30 "$statement")$(tlv 30 "$int_der")")"
  attribute="$(tlv 30 "$oid_attestation$(tlv 31 "$bundle")")"
  local new_cri
  new_cri="$(tlv 30 "$cri_content$(tlv A0 "$attribute")")"
  unhex "$new_cri" >"$out.cri"
  openssl dgst -sha256 -sign "$key" -out "$out.sig" "$out.cri" || return 1
  unhex "$(tlv 30 "$new_cri$alg_ecdsa_sha256$(tlv 03 "00$(hex_of "$out.sig")")")" >"$out"
  openssl req -inform DER -in "$out" -noout -verify >/dev/null 2>&1
}

acceptance_4() {
  section "acceptance 4: code signing with an HSM key attestation in the CSR"
  local label=codesign p s before
  p="$(est_path "$label")"
  local -a auth
  mapfile -t auth < <(basic codesign)
  new_key "$work/cs.key"
  new_key "$work/cs-other.key"
  s="$(subject codesign cs)"
  # Attestation certificates (YubiKey style: over the key, by the HSM's slot certificate).
  openssl req -new -key "$work/cs.key" -subj "/CN=YubiKey PIV Attestation 9c" -out "$work/cs-att.csr"
  openssl req -new -key "$work/cs-other.key" -subj "/CN=YubiKey PIV Attestation 9c" -out "$work/cs-other-att.csr"
  issue_from hsm-root-int "$work/cs-att.csr" "$work/cs-att.pem"
  issue_from hsm-root-int "$work/cs-other-att.csr" "$work/cs-other-att.pem"
  issue_from rogue-root-int "$work/cs-att.csr" "$work/cs-rogue-att.pem"

  if ! attested_csr "$work/cs.key" "$s" "$work/cs-att.pem" "$work/hsm-root-int.pem" "$work/cs.csr"; then
    fail "code signing: build the attested CSR" "openssl did not verify the assembled CSR"
    return
  fi
  pass "code signing: built a CSR with the attestation attribute (openssl req -verify: OK)"
  attested_csr "$work/cs.key" "$s" "$work/cs-other-att.pem" "$work/hsm-root-int.pem" "$work/cs-otherkey.csr"
  attested_csr "$work/cs.key" "$s" "$work/cs-rogue-att.pem" "$work/rogue-root-int.pem" "$work/cs-rogue.csr"
  csr "$work/cs.key" "$s" "$work/cs-none.csr"

  before="$(store_fingerprint)"
  post_csr cs-otherkey "$p/simpleenroll" "$work/cs-otherkey.csr" "${auth[@]}"
  expect_refusal cs-otherkey "code signing: attestation over a different key" 400 "$before" 'attest'
  post_csr cs-rogue "$p/simpleenroll" "$work/cs-rogue.csr" "${auth[@]}"
  expect_refusal cs-rogue "code signing: attestation from an unknown HSM root" 400 "$before" 'root|trust|anchor'
  post_csr cs-none "$p/simpleenroll" "$work/cs-none.csr" "${auth[@]}"
  expect_refusal cs-none "code signing: no attestation" 400 "$before" 'attest'

  post_csr cs "$p/simpleenroll" "$work/cs.csr" "${auth[@]}"
  expect_cert cs "code signing: the attested CSR enrolls" "$work/cs.key" || return 0
  # The emulator (SCM's code-signing API) got the attestation and the HSM type.
  local rows id details
  rows="$(scm_oauth GET /api/v1/certificates)"
  id="$(printf '%s' "$rows" | json "[r['certId'] for r in j if r.get('commonName') == '$(printf '%s' "$s" | sed 's/^\/CN=\([^/]*\).*/\1/')'][-1]" 2>/dev/null || true)"
  if [ -z "$id" ]; then
    fail "code signing: the emulator shows the enrollment" "no code-signing enrollment for $s in $(printf '%s' "$rows" | head -c 300)"
    return
  fi
  details="$(scm_oauth GET "/api/v1/certificates/$id")"
  local hsm att
  hsm="$(printf '%s' "$details" | json 'j.get("hsmType", "")')"
  att="$(printf '%s' "$details" | json 'j.get("keyAttestation", "")')"
  [ "$hsm" = Yubikey ] && pass "code signing: the emulator shows hsmType $hsm" ||
    fail "code signing: hsmType" "the emulator's enrollment $id has hsmType \"$hsm\", expected Yubikey"
  # keyAttestation: the attestation certificate (and intermediate), PEM, base64-encoded once.
  local att_b64_line
  att_b64_line="$(sed -n '2p' "$work/cs-att.pem")"
  if [ -n "$att" ] && { printf '%s' "$att" | base64 -d 2>/dev/null | grep -qF "$att_b64_line" ||
    printf '%s' "$att" | grep -qF "$att_b64_line"; }; then
    pass "code signing: the emulator shows the key attestation (the attestation certificate, ${#att} characters)"
  else
    fail "code signing: keyAttestation" "the emulator's enrollment $id has keyAttestation \"$(printf '%s' "$att" | head -c 120)\", expected the attestation certificate"
  fi
}

# -- proof of possession linked to TLS (RFC 9266 tls-exporter on TLS 1.3) ------------------------

# pop_config SUBJECT CHALLENGE: an openssl req config with the subject and a challengePassword
# (openssl req drops the attributes when -subj is given, so the subject goes in the file too).
pop_config() {
  printf '[req]\ndistinguished_name=dn\nattributes=attrs\nprompt=no\n[dn]\n'
  printf '%s\n' "${1#/}" | tr '/' '\n'
  printf '[attrs]\nchallengePassword=%s\n' "$2"
}

# pop_over_one_connection 1.3|1.2: one TLS connection through openssl s_client in a coprocess:
# read its channel binding (1.3: the RFC 9266 tls-exporter s_client prints with -keymatexport;
# 1.2: tls-unique, RFC 5929, the verify_data of the first Finished message, which -msg dumps),
# build the CSR with it base64 as challengePassword, send the request on that same connection.
pop_over_one_connection() {
  local version="$1" p host auth_b64 s name="pop-tls${1/./}"
  p="$(est_path devices-pop)"
  host="${base_url#https://}"
  auth_b64="$(printf 'device:%s' "${password[device]}" | base64 -w 0)"
  new_key "$work/$name.key"
  s="$(subject devices "$name")"
  local -a tls=(-tls1_3)
  [ "$version" = 1.2 ] && tls=(-tls1_2 -msg)
  # -keymatexport on 1.2 too: its line closes the summary printed once the handshake is done.
  coproc SCLIENT { openssl s_client -connect "$host" -servername localhost -CAfile "$gateway_ca" \
    "${tls[@]}" -keymatexport EXPORTER-Channel-Binding -keymatexportlen 32 -ign_eof 2>&1; }
  coproc_pid=$SCLIENT_PID
  # Our own copies of the pipe ends: bash drops SCLIENT[] as soon as s_client exits.
  local sc_in sc_out
  exec {sc_in}<&"${SCLIENT[0]}" {sc_out}>&"${SCLIENT[1]}"
  local line exporter="" finished="" in_finished=0
  while IFS= read -r -t 20 line <&"$sc_in"; do
    line="${line%$'\r'}"
    if [ "$in_finished" = 1 ]; then
      if [[ "$line" =~ ^\ +[0-9a-f]{2}\  ]]; then
        finished+="$(printf '%s' "$line" | tr -d ' ')"
        continue
      fi
      in_finished=2
    fi
    case "$line" in
      ">>> "*"Handshake"*"Finished"*) [ "$in_finished" = 0 ] && in_finished=1 ;;
      *"Keying material:"*)
        exporter="$(printf '%s' "${line#*Keying material:}" | tr -d ' ')"
        break
        ;;
    esac
  done
  local binding=""
  if [ "$version" = 1.3 ] && [ -n "$exporter" ]; then
    binding="$(unhex "$exporter" | base64 -w 0)"
  elif [ "$version" = 1.2 ] && [ "${#finished}" -ge 32 ]; then
    binding="$(unhex "${finished:8:24}" | base64 -w 0)" # skip the handshake header 14 00 00 0c
  fi
  if [ -z "$binding" ]; then
    fail "pop: TLS $version channel binding" "openssl s_client printed none (exporter '$exporter', Finished '$finished')"
    exec {sc_in}<&- {sc_out}>&-
    kill "$coproc_pid" 2>/dev/null || true
    wait "$coproc_pid" 2>/dev/null || true
    coproc_pid=""
    return
  fi
  pop_config "$s" "$binding" >"$work/$name.cnf"
  openssl req -new -config "$work/$name.cnf" -key "$work/$name.key" -outform DER -out "$work/$name.csr"
  base64 -w 76 "$work/$name.csr" | sed 's/$/\r/' >"$work/$name.b64"
  {
    printf 'POST %s/simpleenroll HTTP/1.1\r\nHost: %s\r\nAuthorization: Basic %s\r\n' "$p" "$host" "$auth_b64"
    printf 'Content-Type: application/pkcs10\r\nContent-Transfer-Encoding: base64\r\n'
    printf 'Content-Length: %d\r\nConnection: close\r\n\r\n' "$(stat -c %s "$work/$name.b64")"
    cat "$work/$name.b64"
  } >&"$sc_out"
  mkdir -p "$work/http"
  timeout 30 cat <&"$sc_in" >"$work/$name.raw" || true
  exec {sc_in}<&- {sc_out}>&-
  kill "$coproc_pid" 2>/dev/null || true
  wait "$coproc_pid" 2>/dev/null || true
  coproc_pid=""
  # The HTTP reply: from the status line on; the headers up to the first empty line, then
  # Content-Length bytes of body (s_client prints more after them).
  # On 1.2, -msg interleaves its record dumps ("<<< TLS 1.2, RecordHeader ..." and hex lines)
  # with the data, wherever a record starts: cut them out first.
  sed -zE 's/(<<<|>>>) TLS 1\.[23], [^\n]*\n(    [0-9a-f ]+\n)*//g' "$work/$name.raw" |
    sed -n '/^HTTP\/1\.1 /,$p' >"$work/$name.http"
  status="$(head -n 1 "$work/$name.http" | cut -d' ' -f2)"
  [ -n "$status" ] || status=000
  awk -v hdr="$work/http/$name.hdr" 'h == 0 { l = $0; sub(/\r$/, "", l); print l > hdr; if (l == "") h = 1; next }
    { print }' "$work/$name.http" >"$work/$name.rest"
  local len
  len="$(hdr "$name" Content-Length)"
  head -c "${len:-0}" "$work/$name.rest" >"$work/http/$name.body"
  local what="tls-exporter"
  [ "$version" = 1.2 ] && what="tls-unique"
  expect_cert "$name" "pop: TLS $version, simpleenroll over the connection whose $what the CSR carries" "$work/$name.key" || true
}

pop_linked_to_tls() {
  section "proof of possession linked to TLS (link_pop_to_tls: tls-exporter, tls-unique)"
  local label=devices-pop p before
  p="$(est_path "$label")"
  est pop-csrattrs GET "$p/csrattrs"
  if [ "$status" = 200 ] && b64d "$work/http/pop-csrattrs.body" |
    openssl asn1parse -inform DER >"$work/pop-csrattrs.txt" 2>&1 &&
    grep -q challengePassword "$work/pop-csrattrs.txt"; then
    pass "pop: csrattrs asks for challengePassword"
  else
    fail "pop: csrattrs" "expected the challengePassword OID, got $(described pop-csrattrs)"
  fi

  pop_over_one_connection 1.3
  pop_over_one_connection 1.2

  # The first connection's binding on another connection (curl's): refused.
  local binding
  binding="$(sed -n 's/^challengePassword=//p' "$work/pop-tls13.cnf" 2>/dev/null)"
  [ -n "$binding" ] || binding="$(head -c 32 /dev/urandom | base64 -w 0)"
  before="$(store_fingerprint)"
  new_key "$work/pop2.key"
  pop_config "$(subject devices pop2)" "$binding" >"$work/pop2.cnf"
  openssl req -new -config "$work/pop2.cnf" -key "$work/pop2.key" -outform DER -out "$work/pop2.csr"
  local -a auth
  mapfile -t auth < <(basic devices)
  post_csr pop-other "$p/simpleenroll" "$work/pop2.csr" "${auth[@]}"
  expect_refusal pop-other "pop: a challengePassword from another TLS connection" 400 "$before"
}

# -- behind a TLS-terminating proxy (est.trusted_proxies: 127.0.0.2) ------------------------------

# escaped_pem PEM: the certificate URL-encoded as nginx's $ssl_client_escaped_cert.
escaped_pem() { sed ':a;N;$!ba;s/\n/%0A/g' "$1" | sed 's/ /%20/g; s/+/%2B/g; s/\//%2F/g; s/=/%3D/g'; }

behind_proxy() {
  section "behind a TLS-terminating proxy (client certificate in X-SSL-Client-Cert)"
  local p before
  p="$(est_path devices)"
  if ! curl -sS --max-time 10 --interface 127.0.0.2 --cacert "$gateway_ca" -o /dev/null "$base_url/" 2>/dev/null; then
    fail "proxy" "cannot connect from 127.0.0.2"
    return
  fi
  local s
  s="$(subject devices proxy)"
  client_identity mfr proxy-id "$s"
  csr "$work/proxy-id.key" "$s" "$work/proxy.csr"
  post_csr proxy "$p/simpleenroll" "$work/proxy.csr" --interface 127.0.0.2 \
    -H "X-SSL-Client-Cert: $(escaped_pem "$work/proxy-id.pem")"
  expect_cert proxy "proxy: simpleenroll with the client certificate a trusted proxy forwards" "$work/proxy-id.key" || true

  before="$(store_fingerprint)"
  post_csr proxy-untrusted "$p/simpleenroll" "$work/proxy.csr" \
    -H "X-SSL-Client-Cert: $(escaped_pem "$work/proxy-id.pem")"
  expect_refusal proxy-untrusted "proxy: the header from an address that is not a trusted proxy is ignored" 401 "$before"

  # Proof of possession linked to TLS cannot pass a proxy: the binding is the proxy's.
  local -a auth
  mapfile -t auth < <(basic devices)
  new_key "$work/proxy-pop.key"
  pop_config "$(subject devices proxypop)" "$(head -c 32 /dev/urandom | base64 -w 0)" >"$work/proxy-pop.cnf"
  openssl req -new -config "$work/proxy-pop.cnf" -key "$work/proxy-pop.key" -outform DER -out "$work/proxy-pop.csr"
  post_csr proxy-pop "$(est_path devices-pop)/simpleenroll" "$work/proxy-pop.csr" --interface 127.0.0.2 "${auth[@]}"
  expect_refusal proxy-pop "proxy: a label linking proof of possession to TLS refuses requests through a proxy" 400 "$before" 'proxy|binding|tls'
}

run_cases() {
  acceptance_1
  acceptance_2
  acceptance_3
  acceptance_4
  pop_linked_to_tls
  behind_proxy
  names_nobody_checks
}
