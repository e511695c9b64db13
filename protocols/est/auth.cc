// EST authentication (RFC 7030 §3.2.3, §3.3.2): the TLS client certificate first (the account's
// anchors and subject pattern, or a certificate this gateway issued under the account), then
// HTTP Basic (PBKDF2 hashes, successful verifications cached), then auth_none.
#include "crypto/base64.h"
#include "crypto/password.h"
#include "protocols/est/internal.h"

namespace eg::est::internal {
namespace {

http::Response NeedCredentials(const config::AccountConfig& account) {
  http::Response r =
      Refuse(401, "this label needs credentials: HTTP Basic or a TLS client certificate");
  r.headers.Set("WWW-Authenticate", "Basic realm=\"enrollgate EST " + account.est.label + "\"");
  return r;
}

struct BasicCredentials {
  std::string user;
  std::string password;
};

// The user and password of an `Authorization: Basic` header; nullopt if there is none, an
// answer if it is malformed.
std::optional<Checked<BasicCredentials>> ParseBasic(const http::Request& request) {
  std::optional<std::string_view> header = request.headers.Get("Authorization");
  if (!header.has_value()) return std::nullopt;
  std::string_view value = *header;
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  const size_t space = value.find(' ');
  if (space == std::string_view::npos || !http::EqualsIgnoreCase(value.substr(0, space), "Basic")) {
    return std::nullopt;  // another scheme: as if absent
  }
  Result<crypto::Bytes> decoded = crypto::Base64Decode(value.substr(space + 1));
  std::string text = decoded.ok() ? std::string(crypto::AsStringView(*decoded)) : "";
  const size_t colon = text.find(':');
  if (!decoded.ok() || colon == std::string::npos) {
    return Checked<BasicCredentials>(
        Refuse(400, "the Authorization header is not HTTP Basic (base64 of user:password)"));
  }
  return Checked<BasicCredentials>(BasicCredentials{text.substr(0, colon), text.substr(colon + 1)});
}

Checked<Caller> AuthenticateBasic(const AuthContext& context, const BasicCredentials& given,
                                  const config::AccountConfig& account) {
  const http::Response wrong = Refuse(403, "wrong user name or password for this label");
  const config::BasicUser* user = nullptr;
  for (const config::BasicUser& u : account.est.basic_users) {
    if (u.user == given.user) user = &u;
  }
  if (user == nullptr || user->password_hash.empty()) return wrong;
  const std::string key = HashKey({account.name, user->user, given.password, user->password_hash});
  if (!context.passwords.Contains(key)) {
    Result<bool> verified = crypto::VerifyPassword(user->password_hash, given.password);
    if (!verified.ok()) {
      context.logger.Error("est: a Basic user's password hash does not parse",
                           {{"account", account.name},
                            {"user", user->user},
                            {"error", verified.error().ToString()}});
      return wrong;
    }
    if (!*verified) return wrong;
    context.passwords.Insert(key);
  }
  return Caller{user->user, "basic"};
}

}  // namespace

bool PasswordCache::Contains(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.count(key) != 0;
}

void PasswordCache::Insert(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  if (entries_.size() >= kMaxEntries) entries_.clear();
  entries_.insert(key);
}

Checked<CertificateRecord> IssuedClientCertificate(const AuthContext& context,
                                                   const crypto::Certificate& leaf,
                                                   const config::AccountConfig& account,
                                                   bool* issued_here) {
  const std::string serial = leaf.SerialHex();
  Result<CertificateRecord> record = context.issuance.Lookup(serial);
  if (issued_here != nullptr) *issued_here = record.ok();
  if (!record.ok()) {
    if (record.error().code() == ErrorCode::kNotFound) {
      return Refuse(403, "the client certificate " + serial + " was not issued by this gateway");
    }
    context.logger.Error("est: looking up a client certificate",
                         {{"serial", serial}, {"error", record.error().ToString()}});
    return ServerError();
  }
  Result<crypto::Certificate> stored = crypto::Certificate::ParsePem(record->chain_pem);
  if (record->account != account.name || !stored.ok() || stored->Der() != leaf.Der()) {
    return Refuse(
        403, "the client certificate " + serial + " was not issued by this gateway for this label");
  }
  if (record->revoked_at.has_value()) {
    return Refuse(403, "the client certificate " + serial + " was revoked");
  }
  if (context.now >= record->not_after || context.now < record->not_before) {
    return Refuse(403, "the client certificate " + serial + " is not valid now (expired?)");
  }
  return std::move(record).value();
}

Checked<Caller> Authenticate(const AuthContext& context, const http::Request& request,
                             const config::AccountConfig& account, const AccountFiles& files) {
  std::optional<Checked<BasicCredentials>> basic = ParseBasic(request);
  if (basic.has_value() && !basic->ok()) return basic->answer();

  // The TLS client certificate, if one was presented.
  const auto& chain = request.client.peer_chain_der;
  std::string cert_refusal;
  if (!chain.empty()) {
    Result<crypto::Certificate> leaf = crypto::Certificate::ParseDer(chain.front());
    if (!leaf.ok()) return Refuse(403, "the TLS client certificate does not parse");
    const std::string subject = leaf->Subject().one_line;
    // A certificate this gateway issued is judged by its record alone: revoked, expired or
    // another label's stays refused with that reason, whatever the label's trust anchors say
    // (they are for certificates from elsewhere, such as a manufacturer's).
    bool issued_here = false;
    if (account.est.accept_issued_certificates) {
      Checked<CertificateRecord> issued =
          IssuedClientCertificate(context, *leaf, account, &issued_here);
      if (issued.ok()) return Caller{subject, "issued-cert", *leaf, std::move(issued.value())};
      if (issued.answer().status >= 500) return issued.answer();
      cert_refusal = issued.answer().body;
    }
    if (!issued_here && !files.client_anchors.empty()) {
      std::vector<crypto::Certificate> intermediates;
      for (size_t i = 1; i < chain.size(); ++i) {
        Result<crypto::Certificate> c = crypto::Certificate::ParseDer(chain[i]);
        if (c.ok()) intermediates.push_back(std::move(c).value());
      }
      Result<crypto::Certificate> anchor =
          crypto::VerifyChain(*leaf, intermediates, files.client_anchors, context.now);
      if (anchor.ok()) {
        if (files.subject_pattern.has_value() &&
            !std::regex_match(subject, *files.subject_pattern)) {
          return Refuse(403, "the client certificate's subject \"" + subject +
                                 "\" is not one this label accepts");
        }
        return Caller{subject, "client-cert"};
      }
      cert_refusal =
          "the client certificate is not trusted for this label: " + anchor.error().message() +
          "\n";
    } else if (cert_refusal.empty()) {
      cert_refusal = "this label does not accept TLS client certificates\n";
    }
    // Not accepted: a password may still authenticate (RFC 7030 §3.2.3); otherwise say why.
    if (!basic.has_value()) {
      while (!cert_refusal.empty() && cert_refusal.back() == '\n') cert_refusal.pop_back();
      return Refuse(403, cert_refusal);
    }
  }

  if (basic.has_value()) return AuthenticateBasic(context, basic->value(), account);
  if (account.est.auth_none) return Caller{"anonymous", "none"};
  if (account.est.basic_users.empty()) {
    return Refuse(403, "this label accepts only TLS client certificates, and none was presented");
  }
  return NeedCredentials(account);
}

}  // namespace eg::est::internal
