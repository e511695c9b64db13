// EST request bodies: the base64 PKCS#10 of simpleenroll, simplereenroll and serverkeygen
// (RFC 7030 §4.2.1, RFC 8951), and proof of possession linked to TLS (RFC 7030 §3.5).
#include "crypto/base64.h"
#include "protocols/est/internal.h"

namespace eg::est::internal {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

Checked<crypto::Csr> ReadCsr(const http::Request& request) {
  std::optional<std::string_view> type = request.headers.Get("Content-Type");
  if (type.has_value() &&
      !http::EqualsIgnoreCase(Trim(type->substr(0, type->find(';'))), "application/pkcs10")) {
    return Refuse(415, "the body must be application/pkcs10 (a base64 DER PKCS#10 request), not " +
                           std::string(Trim(*type)));
  }
  // RFC 8951 §3: the body is base64 whatever Content-Transfer-Encoding says (or whether it is
  // sent at all); line breaks and other whitespace are skipped.
  if (Trim(request.body).empty()) return Refuse(400, "the body is empty; it must carry a CSR");
  Result<crypto::Bytes> der = crypto::Base64Decode(request.body);
  if (!der.ok()) {
    return Refuse(400, "the body is not base64 (RFC 8951): " + der.error().message());
  }
  Result<crypto::Csr> csr = crypto::Csr::ParseDer(*der);
  if (!csr.ok()) {
    return Refuse(400,
                  "the body is not a DER PKCS#10 certificate request: " + csr.error().message());
  }
  if (Result<void> pop = csr->VerifySignature(); !pop.ok()) {
    return Refuse(400, "the CSR's signature does not verify with its own key");
  }
  return std::move(csr).value();
}

std::optional<http::Response> CheckPopLinkedToTls(const config::AccountConfig& account,
                                                  const crypto::Csr& csr,
                                                  const http::ClientIdentity& client) {
  if (!account.est.link_pop_to_tls) return std::nullopt;
  if (client.channel_binding.empty()) {
    return Refuse(400,
                  "this label links proof of possession to TLS (RFC 7030 §3.5), but this "
                  "connection's channel binding is unknown (TLS ended at a proxy?); connect "
                  "directly over TLS");
  }
  const std::string expected = crypto::Base64Encode(client.channel_binding);
  const std::string given = csr.ChallengePassword();
  if (given.empty()) {
    return Refuse(400,
                  "this label links proof of possession to TLS (RFC 7030 §3.5): the CSR's "
                  "challengePassword must be base64 of the connection's " +
                      std::string(client.tls_version == "TLS1.2" ? "tls-unique" : "tls-exporter") +
                      " value, and it has none");
  }
  if (given != expected) {
    return Refuse(400,
                  "the CSR's challengePassword is not this TLS connection's channel binding "
                  "(RFC 7030 §3.5): the CSR was made for another connection");
  }
  return std::nullopt;
}

}  // namespace eg::est::internal
