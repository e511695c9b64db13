# conformance/est/security.sh — attacks on the running daemon's EST names (issue 15, sourced by
# run.sh after cases.sh): every name a certificate would carry is checked against the label's
# enrollment account, so a device CSR cannot slip a name past `names` through its CN, a URI SAN,
# or an IP address written as a DNS name. Each request must be refused with a plain-text reason
# and must leave the store and the emulator untouched.

names_nobody_checks() {
  section "security: names nobody checked (device label, names under example.test only)"
  local -a auth
  mapfile -t auth < <(basic devices)
  local before u
  u="$(uniq)"
  new_key "$work/names.key"

  # A device CN that is a DNS name is a name a relying party matches: checked like a SAN.
  csr "$work/names.key" "/CN=evil-$u.other.test" "$work/names-cn.csr"
  before="$(store_fingerprint)"
  post_csr names-cn "$(est_path devices)/simpleenroll" "$work/names-cn.csr" "${auth[@]}"
  expect_refusal names-cn "a device CSR whose CN is a DNS name outside the account is refused" 400 "$before" 'other\.test'

  # A SAN kind the account cannot allow (no policy covers URIs).
  csr "$work/names.key" "/CN=dev-uri-$u" "$work/names-uri.csr" -addext "subjectAltName=DNS:dev-uri-$u.example.test,URI:https://evil.other.test/"
  before="$(store_fingerprint)"
  post_csr names-uri "$(est_path devices)/simpleenroll" "$work/names-uri.csr" "${auth[@]}"
  expect_refusal names-uri "a device CSR with a URI SAN is refused" 400 "$before" 'URI'

  # An IP address in a dNSName is no DNS name (it would bypass names.ip_ranges).
  csr "$work/names.key" "/CN=dev-ip-$u" "$work/names-ip.csr" -addext "subjectAltName=DNS:10.0.0.1"
  before="$(store_fingerprint)"
  post_csr names-ip "$(est_path devices)/simpleenroll" "$work/names-ip.csr" "${auth[@]}"
  expect_refusal names-ip "a device CSR naming an IP address as a DNS name is refused" 400 "$before" '10\.0\.0\.1'

  # A device id in the CN (no dot, not an address) is still fine.
  csr "$work/names.key" "/CN=dev-id-$u/serialNumber=$u" "$work/names-id.csr" -addext "subjectAltName=DNS:dev-id-$u.example.test"
  post_csr names-id "$(est_path devices)/simpleenroll" "$work/names-id.csr" "${auth[@]}"
  expect_cert names-id "a device id in the CN with an allowed DNS SAN is issued" "$work/names.key" || true
}
