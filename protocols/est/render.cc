// EST answers: plain-text refusals, base64 bodies in 76-column lines, certs-only PKCS#7 and the
// serverkeygen multipart/mixed (RFC 7030 §4.1.3, §4.2.3, §4.4.2; RFC 8951).
#include "crypto/pkcs7.h"
#include "crypto/random.h"
#include "protocols/est/internal.h"

namespace eg::est::internal {

http::Response Refuse(int status, std::string reason) {
  return http::Response::Text(status, std::move(reason) + "\n");
}

http::Response ServerError() {
  return Refuse(500, "internal error; the server log has the details");
}

http::Response ServiceUnavailable() {
  http::Response r = Refuse(503, "the service is temporarily unavailable; try again later");
  r.headers.Set("Retry-After", "30");
  return r;
}

std::string WrapBase64(const crypto::Bytes& der) {
  const std::string flat = crypto::Base64Encode(der);
  std::string out;
  out.reserve(flat.size() + flat.size() / 38 + 2);
  for (size_t i = 0; i < flat.size(); i += 76) {
    out.append(flat, i, 76);
    out.append("\r\n");
  }
  return out;
}

http::Response CertsOnlyResponse(const crypto::Bytes& pkcs7_der, bool smime_certs_only) {
  http::Response r;
  r.status = 200;
  r.headers.Set("Content-Type", smime_certs_only ? "application/pkcs7-mime; smime-type=certs-only"
                                                 : "application/pkcs7-mime");
  r.headers.Set("Content-Transfer-Encoding", "base64");
  r.body = WrapBase64(pkcs7_der);
  return r;
}

Result<crypto::Bytes> CertsOnlyFromPem(std::string_view chain_pem) {
  EG_ASSIGN_OR_RETURN(std::vector<crypto::Certificate> chain,
                      crypto::Certificate::ParsePemChain(chain_pem));
  return crypto::EncodeCertsOnly(chain);
}

http::Response ServerKeygenResponse(const crypto::Bytes& pkcs8_der,
                                    const crypto::Bytes& pkcs7_der) {
  // Base64url characters are all allowed in a boundary (RFC 2046 §5.1.1), and a base64 line
  // never starts with "--", so the delimiter cannot occur inside a part.
  const std::string boundary = "est-" + crypto::RandomToken(18);
  std::string body;
  body += "--" + boundary + "\r\n";
  body += "Content-Type: application/pkcs8\r\n";
  body += "Content-Transfer-Encoding: base64\r\n\r\n";
  body += WrapBase64(pkcs8_der);
  body += "--" + boundary + "\r\n";
  body += "Content-Type: application/pkcs7-mime; smime-type=certs-only\r\n";
  body += "Content-Transfer-Encoding: base64\r\n\r\n";
  body += WrapBase64(pkcs7_der);
  body += "--" + boundary + "--\r\n";
  http::Response r;
  r.status = 200;
  r.headers.Set("Content-Type", "multipart/mixed; boundary=" + boundary);
  r.body = std::move(body);
  return r;
}

std::string HashKey(std::initializer_list<std::string_view> parts) {
  std::string joined;
  bool first = true;
  for (std::string_view p : parts) {
    if (!first) joined.push_back('\0');
    joined.append(p);
    first = false;
  }
  return crypto::HexEncode(crypto::Sha256(joined));
}

}  // namespace eg::est::internal
