// enrollgate eab create | list | revoke.
#include <nlohmann/json.hpp>
#include <ostream>

#include "crypto/random.h"
#include "mapping/name_policy.h"
#include "tools/commands.h"
#include "tools/format.h"

namespace eg::tools {

namespace {

constexpr size_t kKeyIdBytes = 18;    // 24 base64url characters
constexpr size_t kHmacKeyBytes = 32;  // HS256
constexpr auto kDefaultExpiry = std::chrono::hours(24 * 30);

std::string AcmeEabAccounts(const config::Config& config) {
  std::string names;
  for (const auto& a : config.accounts) {
    if (a.Allows(config::Protocol::kAcme) && a.acme.eab_required) {
      names += (names.empty() ? "" : ", ") + a.name;
    }
  }
  return names.empty() ? "none" : names;
}

// A random base64url token that does not start with '-' (which command lines would take for an
// option: certbot --eab-kid -x...).
std::string Token(size_t bytes) {
  std::string t;
  do {
    t = crypto::Base64UrlEncode(crypto::RandomBytes(bytes));
  } while (!t.empty() && t.front() == '-');
  return t;
}

// A name the account allows, for the example certbot line.
std::string ExampleName(const config::AccountConfig& account) {
  std::vector<std::string> candidates = account.names.dns_names;
  for (const auto& suffix : account.names.dns_suffixes) candidates.push_back("www." + suffix);
  for (const auto& suffix : account.names.dns_suffixes) candidates.push_back(suffix);
  candidates.push_back("www.example.com");
  for (const auto& name : candidates) {
    if (mapping::CheckDnsName(account.names, name).ok()) return name;
  }
  return "NAME";
}

// Quotes for a POSIX shell when needed.
std::string ShellWord(const std::string& s) {
  bool plain = !s.empty();
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == '/' || c == ':' || c == '@' ||
                    c == '=' || c == '+' || c == ',';
    plain = plain && ok;
  }
  if (plain) return s;
  std::string quoted = "'";
  for (char c : s) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

nlohmann::json EabJson(const EabCredential& c) {
  nlohmann::json j = {{"key_id", c.key_id},    {"account", c.account},
                      {"email", c.email},      {"created_at", FormatRfc3339(c.created_at)},
                      {"expires_at", nullptr}, {"bound_to", c.bound_to},
                      {"revoked_at", nullptr}};
  if (c.expires_at) j["expires_at"] = FormatRfc3339(*c.expires_at);
  if (c.revoked_at) j["revoked_at"] = FormatRfc3339(*c.revoked_at);
  return j;
}

}  // namespace

int RunEabCreate(Session& session, const ParsedArgs& args) {
  std::ostream& err = session.err();
  if (!args.positional().empty()) {
    err << "enrollgate eab create: unexpected argument \"" << args.positional().front() << "\"\n";
    return kExitUsage;
  }
  const std::string account_name = args.Get("account");
  if (account_name.empty()) {
    err << "enrollgate eab create: --account NAME is required (accounts that take invitations: "
        << AcmeEabAccounts(session.config()) << ")\n";
    return kExitUsage;
  }
  // A plain flag and duration rather than std::optional: g++ 12 -O3 warns (falsely) that the
  // optional's value may be used uninitialized.
  bool expires = true;
  std::chrono::seconds lifetime = kDefaultExpiry;
  if (args.Has("expires")) {
    const std::string text = args.Get("expires");
    if (text == "never") {
      expires = false;
    } else {
      Result<std::chrono::seconds> d = ParseDuration(text);
      if (!d.ok()) {
        err << "enrollgate eab create: --expires: " << d.error().message() << " or \"never\"\n";
        return kExitUsage;
      }
      lifetime = *d;
    }
  }
  const std::string email = args.Get("email");
  if (args.Has("email")) {
    const size_t at = email.find('@');
    if (at == std::string::npos || at == 0 || at + 1 == email.size() ||
        email.find_first_of(" \t\r\n,;<>") != std::string::npos) {
      err << "enrollgate eab create: --email: \"" << email << "\" is not an email address\n";
      return kExitUsage;
    }
  }

  const config::AccountConfig* account = session.FindAccount(account_name);
  if (account == nullptr) {
    err << "enrollgate eab create: no enrollment account \"" << account_name << "\" in "
        << session.config_path()
        << " (accounts that take invitations: " << AcmeEabAccounts(session.config()) << ")\n";
    return kExitFailed;
  }
  if (!account->Allows(config::Protocol::kAcme)) {
    err << "enrollgate eab create: enrollment account \"" << account_name
        << "\" does not serve ACME (accounts." << account_name
        << ".protocols); EAB credentials are for ACME clients. Accounts that take invitations: "
        << AcmeEabAccounts(session.config()) << "\n";
    return kExitFailed;
  }
  if (!account->acme.eab_required) {
    err << "enrollgate eab create: enrollment account \"" << account_name
        << "\" does not require External Account Binding (accounts." << account_name
        << ".acme.eab_required is false): ACME clients register without an invitation at "
        << AcmeDirectoryUrl(session.config()) << "\n";
    return kExitFailed;
  }

  Result<Store*> store = session.OpenStore(/*create=*/true);
  if (!store.ok()) {
    err << "enrollgate eab create: " << store.error().message() << "\n";
    return kExitFailed;
  }
  EabCredential credential;
  credential.key_id = Token(kKeyIdBytes);
  credential.account = account->name;
  credential.hmac_key = Token(kHmacKeyBytes);
  credential.email = email;
  credential.created_at = session.Now();
  if (expires) credential.expires_at = credential.created_at + lifetime;
  if (Result<void> created = (*store)->CreateEab(credential); !created.ok()) {
    err << "enrollgate eab create: " << created.error().message() << "\n";
    return kExitFailed;
  }

  const config::Config& config = session.config();
  const std::string directory = AcmeDirectoryUrl(config);
  std::string certbot;
  if (ServerCertFromEmulator(config)) {
    certbot += "REQUESTS_CA_BUNDLE=" + ShellWord(config.server.ca_bundle_out) + " ";
  }
  certbot += "certbot certonly --server " + ShellWord(directory) + " --eab-kid " +
             ShellWord(credential.key_id) + " --eab-hmac-key " + ShellWord(credential.hmac_key) +
             " " +
             (email.empty() ? std::string("--register-unsafely-without-email")
                            : "--email " + ShellWord(email) + " --no-eff-email") +
             " --agree-tos -d " + ShellWord(ExampleName(*account)) + " --standalone";

  std::ostream& out = session.out();
  out << "EAB credential created for enrollment account '" << account->name << "'";
  if (!email.empty()) out << " (" << email << ")";
  out << ".\n\n"
      << "  ACME directory  " << directory << "\n"
      << "  key id          " << credential.key_id << "\n"
      << "  HMAC key        " << credential.hmac_key << "\n"
      << "  expires         "
      << (credential.expires_at ? FormatRfc3339(*credential.expires_at) +
                                      " (register before then; the binding then lasts)"
                                : std::string("never"))
      << "\n\n"
      << "The HMAC key is shown only now. Send both to the machine's administrator, e.g.:\n\n"
      << "  " << certbot << "\n";
  if (ServerCertFromEmulator(config)) {
    out << "\n(REQUESTS_CA_BUNDLE: enrollgated's own certificate comes from the embedded SCM's "
           "CA; the file exists once enrollgated has started.)\n";
  }
  return kExitOk;
}

int RunEabList(Session& session, const ParsedArgs& args) {
  std::ostream& out = session.out();
  const bool json = args.Has("json");
  if (!args.positional().empty()) {
    session.err() << "enrollgate eab list: unexpected argument \"" << args.positional().front()
                  << "\"\n";
    return kExitUsage;
  }
  std::vector<EabCredential> credentials;
  Result<Store*> store = session.OpenStore(/*create=*/false);
  if (store.ok()) {
    auto listed = (*store)->ListEab(args.Get("account"));
    if (!listed.ok()) {
      session.err() << "enrollgate eab list: " << listed.error().message() << "\n";
      return kExitFailed;
    }
    credentials = std::move(listed).value();
  } else if (store.error().code() != ErrorCode::kNotFound) {
    session.err() << "enrollgate eab list: " << store.error().message() << "\n";
    return kExitFailed;
  }
  if (json) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& c : credentials) list.push_back(EabJson(c));
    out << list.dump(2) << "\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  const TimePoint now = session.Now();
  for (const auto& c : credentials) {
    std::string expires = c.expires_at ? FormatRfc3339(*c.expires_at) : "never";
    if (c.expires_at && *c.expires_at <= now && c.bound_to.empty()) expires += " (expired)";
    rows.push_back({c.key_id, c.account, c.email, FormatRfc3339(c.created_at), expires, c.bound_to,
                    c.revoked_at ? FormatRfc3339(*c.revoked_at) : "no"});
  }
  PrintTable(out, {"KEY ID", "ACCOUNT", "EMAIL", "CREATED", "EXPIRES", "BOUND TO", "REVOKED"},
             rows);
  return kExitOk;
}

int RunEabRevoke(Session& session, const ParsedArgs& args) {
  std::ostream& err = session.err();
  if (args.positional().size() != 1) {
    err << "enrollgate eab revoke: give exactly one KEYID (enrollgate eab list shows them)\n";
    return kExitUsage;
  }
  const std::string& key_id = args.positional().front();
  Result<Store*> store = session.OpenStore(/*create=*/false);
  if (!store.ok()) {
    err << "enrollgate eab revoke: " << store.error().message() << "\n";
    return kExitFailed;
  }
  Result<EabCredential> before = (*store)->GetEab(key_id);
  if (!before.ok()) {
    err << "enrollgate eab revoke: "
        << (before.error().code() == ErrorCode::kNotFound
                ? "no EAB credential with key id " + key_id
                : before.error().message())
        << "\n";
    return kExitFailed;
  }
  if (Result<void> revoked = (*store)->RevokeEab(key_id, session.Now()); !revoked.ok()) {
    err << "enrollgate eab revoke: " << revoked.error().message() << "\n";
    return kExitFailed;
  }
  std::ostream& out = session.out();
  if (before->revoked_at) {
    out << "EAB credential " << key_id << " was already revoked at "
        << FormatRfc3339(*before->revoked_at) << ".\n";
  } else {
    out << "EAB credential " << key_id << " (account '" << before->account << "') revoked.\n";
  }
  if (!before->bound_to.empty()) {
    out << "It was used by ACME account " << before->bound_to
        << ", which stays bound to enrollment account '" << before->account << "'.\n";
  }
  return kExitOk;
}

}  // namespace eg::tools
