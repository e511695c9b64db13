// The whole enrollgated configuration as plain structs, and loading it from JSON.
//
// Loading rejects unknown keys and wrong types, and every error names the key path
// ("scm.auth.password_file: file not readable"). Relative paths in the file resolve against
// LoadOptions::base_dir, or else the config file's directory (config/embedded.json says
// "state_dir": "../var", i.e. the repository's var/); after loading every path is absolute.
// Secrets referenced by *_file keys are read at load time into the *_value fields so the daemon
// never reads them again from a request thread. Keys and rules: docs/configuration.md. Loading
// never throws. Plain values; thread-safe as values.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "config/accounts.h"
#include "core/log.h"
#include "core/result.h"

namespace eg::config {

struct ServerConfig {
  std::string listen_host = "127.0.0.1";
  uint16_t port = 8443;  // 0: any free port (tests); ENROLLGATE_PORT overrides
  // Server certificate and key (PEM files). Empty in embedded mode: the daemon enrolls one for
  // `tls_names` through SCM at first start and keeps it under state_dir.
  std::string tls_cert_file;
  std::string tls_key_file;
  std::vector<std::string> tls_names = {"localhost", "127.0.0.1"};
  // Where the daemon writes the CA bundle clients must trust (embedded mode);
  // "" = STATE/ca-bundle.pem.
  std::string ca_bundle_out;
  int threads = 0;  // libmicrohttpd worker threads; 0 = number of cores
  size_t max_body_bytes = 256 * 1024;
  std::chrono::seconds drain_timeout{10};
};

struct StoreConfig {
  std::string driver = "sqlite";  // only "sqlite" so far
  std::string sqlite_path;        // default STATE/enrollgate.db
  int pool_size = 4;
};

enum class ScmMode { kEmbedded, kRemote };
enum class ScmAuthMode { kPassword, kClientCertificate, kOAuth2 };

struct ScmAuthConfig {
  ScmAuthMode mode = ScmAuthMode::kPassword;
  std::string customer_uri;
  std::string login;
  std::string password_file;     // kPassword: file whose first line is the password
  std::string client_cert_file;  // kClientCertificate
  std::string client_key_file;
  std::string oauth_token_url;  // kOAuth2
  std::string oauth_client_id;
  std::string oauth_client_secret_file;
  // Filled by the loader from the *_file keys (never from JSON).
  std::string password_value;
  std::string client_cert_pem;
  std::string client_key_pem;
  std::string oauth_client_secret_value;
};

struct EmbeddedScmConfig {
  std::string state_dir;    // default STATE/scm-emulator
  std::string config_file;  // emulator fixtures; "" = built-in defaults
  uint16_t port = 0;        // loopback port; 0 = any free
};

struct ScmConfig {
  ScmMode mode = ScmMode::kEmbedded;
  std::string base_url;               // kRemote: "https://cert-manager.com"
  std::string code_signing_base_url;  // "" = base_url + "/api/v1"
  std::string ca_bundle_file;         // "" = system store (kRemote); emulator CA (kEmbedded)
  std::string ca_bundle_pem;  // filled by the loader from ca_bundle_file (kRemote, read_secrets)
  ScmAuthConfig auth;
  EmbeddedScmConfig embedded;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds request_timeout{30000};
  int max_attempts = 6;
  // Which SSL profile the daemon enrolls its own server certificate with (embedded mode).
  int64_t server_cert_profile_id = 1001;
  int64_t server_cert_org_id = 1697;
  int server_cert_term_days = 365;
};

// How the issuance service waits for SCM, and how webhooks are delivered.
struct IssuanceConfig {
  // How long a client's request waits for SCM to issue before it is answered "pending, retry
  // after N s" (ACME processing + Retry-After, EST 202 + Retry-After).
  std::chrono::milliseconds wait_budget{2000};
  // Collect backoff while SCM is not ready: first pause, doubling, capped.
  std::chrono::milliseconds poll_initial{1000};
  std::chrono::milliseconds poll_max{std::chrono::minutes(5)};
  // How long a daemon keeps an enrollment it is sending to SCM from the others (and from itself
  // after a crash): longer than one SCM call with all its retries.
  std::chrono::milliseconds claim_lease{std::chrono::minutes(5)};
  // How often the background poller looks for due work (intents, pending collects).
  std::chrono::milliseconds poll_tick{1000};
  // Webhook delivery: per-attempt timeout, and when an undeliverable notification is dropped.
  std::chrono::milliseconds webhook_timeout{10000};
  std::chrono::seconds webhook_max_age{std::chrono::hours(24)};
  // Revocation sweep: how long a live certificate goes without asking SCM whether it was revoked
  // there (0 = never ask), and how many certificates one poller tick asks about.
  std::chrono::seconds revocation_check{std::chrono::hours(6)};
  int revocation_batch = 16;
};

// The ACME server's own settings (the per-account ACME rules are in AccountConfig::acme).
struct AcmeValidationConfig {
  uint16_t http01_port = 80;
  uint16_t tls_alpn01_port = 443;
  std::string dns_server;                    // "host:port" of the resolver; "" = the system's
  std::map<std::string, std::string> hosts;  // name (or "*") -> address to connect to; tests only
  std::chrono::milliseconds timeout{10000};  // one validation attempt, connect included
  int max_attempts = 3;                      // attempts before a challenge is invalid
  int workers = 4;                           // validations in flight at once
};

struct AcmeConfig {
  // The external base URL ("https://acme.example.test:8443"); "" = "https://" + the request's
  // Host header.
  std::string public_url;
  std::string terms_of_service;  // URL in the directory's meta; set: newAccount must agree
  std::string website;           // URL in the directory's meta
  std::chrono::seconds nonce_lifetime{3600};
  std::chrono::seconds order_lifetime{604800};
  std::chrono::seconds authz_lifetime{604800};
  std::chrono::seconds retry_after{1};  // Retry-After on processing orders and challenges
  AcmeValidationConfig validation;
};

// The EST server's own settings (the per-account EST rules are in AccountConfig::est).
struct EstConfig {
  // Addresses of TLS-terminating proxies ("192.0.2.7/32", "2001:db8::/64") whose
  // client_cert_header is believed; from any other address the header is ignored.
  std::vector<std::string> trusted_proxies;
  // The header such a proxy puts the client's certificate in (URL-encoded PEM, as nginx's
  // $ssl_client_escaped_cert).
  std::string client_cert_header = "X-SSL-Client-Cert";
  // The label served at /.well-known/est/ without a label. The loader fills it when unset: the
  // label of the only account serving EST; "" (no default, 404) when there are several.
  std::string default_label;
  // AES-256 key (64 hex characters) sealing server-generated private keys until collected;
  // "" = STATE/est-server-key.kek. The daemon generates it (mode 0600) when the file is missing.
  std::string server_key_kek_file;
  size_t max_body_bytes = 64 * 1024;  // largest EST request body; not above server's
};

struct Config {
  std::string state_dir = "var";  // everything the daemon writes, unless a path says otherwise
  LogLevel log_level = LogLevel::kInfo;
  ServerConfig server;
  StoreConfig store;
  ScmConfig scm;
  IssuanceConfig issuance;
  AcmeConfig acme;
  EstConfig est;
  std::vector<AccountConfig> accounts;
  std::string source_path;  // the file it came from (for messages)
  // Problems worth logging that do not stop loading ("scm.auth.password_file: readable by group
  // or others"), each beginning with its key path. Filled by the loader; the daemon logs them.
  std::vector<std::string> warnings;
};

struct LoadOptions {
  // Base for relative paths; "" = the directory of the config file.
  std::string base_dir;
  // Read the *_file secrets into the *_value fields (the daemon always does; tests of the
  // structure alone may not).
  bool read_secrets = true;
};

Result<Config> LoadConfigFile(const std::string& path, const LoadOptions& options = {});
Result<Config> LoadConfigJson(std::string_view json_text, const LoadOptions& options);

}  // namespace eg::config
