#include "daemon/app.h"

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <optional>
#include <thread>

#include "crypto/jose/jws.h"
#include "crypto/x509.h"
#include "daemon/asio_scheduler.h"
#include "daemon/est_kek.h"
#include "daemon/server_cert.h"
#include "daemon/webhook_notifier.h"
#include "issuance/catalog_codec.h"
#include "mapping/validate.h"
#include "protocols/acme/challenge_worker.h"
#include "protocols/acme/server.h"
#include "protocols/acme/validation/validator.h"
#include "protocols/est/server.h"
#include "scm/client/scm_client.h"
#include "scm/emulator/emulator.h"

namespace eg::daemon {
namespace fs = std::filesystem;

// The ACME server and what validates its challenges. The validators run on an io_context with a
// thread of its own (their sockets and timers); the worker polls on the daemon's scheduler.
// Stopped in reverse: the worker first (no new validations), then the io_context (abandoning
// validations in flight; their challenges are leased and retried after a restart).
struct AcmeRuntime {
  boost::asio::io_context io;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
  std::thread io_thread;
  std::unique_ptr<acme::validation::Validator> validator;
  std::unique_ptr<acme::ChallengeWorker> worker;
  std::unique_ptr<acme::AcmeServer> server;

  void Stop() {
    if (worker != nullptr) worker->Stop();
    work.reset();
    io.stop();
    if (io_thread.joinable()) io_thread.join();
  }
  ~AcmeRuntime() { Stop(); }
};

constexpr auto kNoncePurgeInterval = std::chrono::minutes(1);
constexpr auto kServerKeyPurgeInterval = std::chrono::hours(1);

namespace {

// The embedded emulator's default administrator (docs/scm-provisional.md).
constexpr char kEmbeddedLogin[] = "admin";
constexpr char kEmbeddedPassword[] = "admin";
constexpr char kEmbeddedCustomerUri[] = "demo";
// Its built-in OAuth2 client for the code-signing REST enrollment API (scm/emulator/fixtures.cc).
constexpr char kEmbeddedCodeSigningClientId[] = "codesign";
constexpr char kEmbeddedCodeSigningSecret[] = "codesign-secret";

std::string Terminated(std::string pem) {
  if (!pem.empty() && pem.back() != '\n') pem.push_back('\n');
  return pem;
}

std::string OrDefault(const std::string& value, const std::string& state_dir, const char* leaf) {
  return value.empty() ? (fs::path(state_dir) / leaf).string() : value;
}

Result<void> MakeDirectory(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Unavailable("cannot create directory " + dir + ": " + ec.message());
  return Ok();
}

bool ServesEst(const std::vector<config::AccountConfig>& accounts) {
  return std::any_of(accounts.begin(), accounts.end(), [](const config::AccountConfig& a) {
    return a.Allows(config::Protocol::kEst);
  });
}

// Whether any EST account authenticates TLS client certificates (its own anchors, or the
// certificates this gateway issued).
bool WantsClientCertificates(const std::vector<config::AccountConfig>& accounts) {
  return std::any_of(accounts.begin(), accounts.end(), [](const config::AccountConfig& a) {
    return a.Allows(config::Protocol::kEst) &&
           (!a.est.client_cert_anchor_files.empty() || a.est.accept_issued_certificates);
  });
}

bool IsTransient(const Error& e) {
  return e.code() == ErrorCode::kUnavailable || e.code() == ErrorCode::kDeadlineExceeded;
}

Result<mapping::ScmCatalog> FetchCatalog(ScmApi& scm, const std::vector<CertType>& types) {
  mapping::ScmCatalog catalog;
  for (CertType type : types) {
    const std::string name(CertTypeName(type));
    Result<std::vector<ScmProfile>> profiles = scm.ListProfiles(type);
    if (!profiles.ok()) return profiles.error().WithContext("listing SCM " + name + " profiles");
    for (ScmProfile& p : *profiles) catalog.profiles.emplace_back(type, std::move(p));
    Result<std::vector<ScmCustomField>> fields = scm.ListCustomFields(type);
    if (!fields.ok()) return fields.error().WithContext("listing SCM " + name + " custom fields");
    for (ScmCustomField& f : *fields) catalog.custom_fields.emplace_back(type, std::move(f));
  }
  return catalog;
}

}  // namespace

App::App(const config::Config& config, Logger& logger, Clock& clock)
    : config_(config), logger_(logger), clock_(clock) {}

App::~App() { Shutdown(); }

Result<std::unique_ptr<App>> App::Start(const config::Config& config, Logger& logger, Clock& clock,
                                        const StopSignal& stop) {
  std::unique_ptr<App> app(new App(config, logger, clock));
  Result<void> started = app->StartAll(stop);
  if (!started.ok()) {
    app->Shutdown();
    return started.error();
  }
  return app;
}

Result<void> App::StartAll(const StopSignal& stop) {
  const std::string& state = config_.state_dir;
  EG_TRY(MakeDirectory(state));

  // Store: opening applies the migrations.
  storage::SqliteOptions store_options;
  store_options.path = OrDefault(config_.store.sqlite_path, state, "enrollgate.db");
  store_options.connections = config_.store.pool_size > 0 ? config_.store.pool_size : 4;
  Result<std::unique_ptr<storage::SqliteStore>> store = storage::SqliteStore::Open(store_options);
  if (!store.ok()) return store.error().WithContext("store " + store_options.path);
  store_ = std::move(store).value();
  logger_.Info("store opened", {{"path", store_options.path}});

  if (config_.scm.mode == config::ScmMode::kEmbedded) {
    scm_emulator::Options emu;
    emu.listen_host = "127.0.0.1";
    emu.port = config_.scm.embedded.port;
    emu.state_dir = OrDefault(config_.scm.embedded.state_dir, state, "scm-emulator");
    emu.config_file = config_.scm.embedded.config_file;
    Result<std::unique_ptr<scm_emulator::Emulator>> started =
        scm_emulator::Emulator::Start(emu, logger_);
    if (!started.ok()) return started.error().WithContext("embedded SCM emulator");
    emulator_ = std::move(started).value();
    scm_ca_pem_ = emulator_->ca_pem();
    logger_.Info("embedded SCM emulator started",
                 {{"url", emulator_->base_url()}, {"state_dir", emu.state_dir}});
  }
  EG_ASSIGN_OR_RETURN(scm_, CreateScm());

  // SCM's catalog, and the accounts checked against it: a configuration SCM would reject stops
  // the start here, naming the key path and the SCM rule.
  EG_ASSIGN_OR_RETURN(std::shared_ptr<const MappingSnapshot> mapping,
                      BuildMapping(config_.accounts));
  {
    std::lock_guard<std::mutex> lock(mapping_mu_);
    mapping_ = std::move(mapping);
  }

  // Server certificate.
  ServerCredentials creds;
  if (!config_.server.tls_cert_file.empty()) {
    EG_ASSIGN_OR_RETURN(
        creds, LoadServerCredentials(config_.server.tls_cert_file, config_.server.tls_key_file));
  } else {
    ServerCertOptions options;
    options.dir = (fs::path(state) / "server").string();
    options.names = config_.server.tls_names;
    options.profile_id = config_.scm.server_cert_profile_id;
    options.org_id = config_.scm.server_cert_org_id;
    options.term_days = config_.scm.server_cert_term_days;
    if (!scm_ca_pem_.empty()) options.anchor_pems.push_back(scm_ca_pem_);
    EG_ASSIGN_OR_RETURN(creds, EnsureServerCertificate(options, *scm_, clock_, logger_, stop));
  }
  server_fingerprint_ = creds.fingerprint_sha256;
  EG_TRY(WriteCaBundle(creds.issuer_pems, creds.cert_chain_pem));

  // Background work: the issuance poller (which first finishes what a crash left) and webhooks.
  scheduler_ = std::make_unique<AsioScheduler>(2);
  WebhookOptions webhook_options;
  webhook_options.request_timeout = config_.issuance.webhook_timeout;
  webhook_options.max_age = config_.issuance.webhook_max_age;
  notifier_ =
      std::make_unique<WebhookNotifier>(*store_, *scheduler_, clock_, logger_, webhook_options);
  issuance::Options issuance_options;
  issuance_options.wait_budget = config_.issuance.wait_budget;
  issuance_options.poll_initial = config_.issuance.poll_initial;
  issuance_options.poll_max = config_.issuance.poll_max;
  issuance_options.claim_lease = config_.issuance.claim_lease;
  issuance_options.poll_tick = config_.issuance.poll_tick;
  issuance_options.revocation_check_interval = config_.issuance.revocation_check;
  issuance_options.revocation_batch = config_.issuance.revocation_batch;
  issuance_ = std::make_unique<issuance::IssuanceService>(
      *store_, *scm_, *notifier_, *scheduler_, clock_, logger_,
      [this](const std::string& account) {
        std::shared_ptr<const MappingSnapshot> m = this->mapping();
        const config::AccountConfig* a = m->FindAccount(account);
        return a != nullptr ? a->webhook_url : std::string();
      },
      issuance_options);
  notifier_->Start();
  issuance_->Start();
  EG_TRY(StartAcme());
  EG_TRY(StartEst());

  // Routes.
  health_ = std::make_unique<HealthHandler>(*store_, logger_);
  router_.AddSync("GET", "/health",
                  [health = health_.get()](const http::Request& r) { return health->Handle(r); });

  HttpServerOptions server_options;
  server_options.host = config_.server.listen_host;
  server_options.port = config_.server.port;
  server_options.cert_chain_pem = creds.cert_chain_pem;
  server_options.key_pem = creds.key_pem;
  int threads = config_.server.threads;
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  server_options.threads = threads;
  server_options.max_body_bytes = config_.server.max_body_bytes;
  server_options.too_large = [acme = acme_->server.get(), limit = config_.server.max_body_bytes,
                              est = est_.get(), est_limit = config_.est.max_body_bytes](
                                 std::string_view path) -> std::optional<http::Response> {
    if (path.rfind("/acme/", 0) == 0) return acme->BodyTooLarge(limit);
    if (est != nullptr && path.rfind(est::kWellKnownPrefix, 0) == 0) {
      return est->BodyTooLarge(est_limit);
    }
    return std::nullopt;
  };
  EG_TRY(ConfigureClientCertificates(server_options, creds.issuer_pems));
  Result<std::unique_ptr<HttpServer>> server = HttpServer::Start(server_options, router_, logger_);
  if (!server.ok()) return server.error();
  server_ = std::move(server).value();
  return Ok();
}

Result<void> App::StartAcme() {
  const config::AcmeConfig& c = config_.acme;
  acme_ = std::make_unique<AcmeRuntime>();
  acme::validation::ValidatorOptions v;
  v.http01_port = c.validation.http01_port;
  v.tls_alpn01_port = c.validation.tls_alpn01_port;
  v.dns_server = c.validation.dns_server;
  v.hosts = c.validation.hosts;
  v.connect_timeout = c.validation.timeout;
  v.total_timeout = c.validation.timeout;
  acme_->validator = std::make_unique<acme::validation::Validator>(acme_->io, v);
  acme_->work.emplace(acme_->io.get_executor());
  acme_->io_thread = std::thread([io = &acme_->io] { io->run(); });
  acme::ChallengeWorker::Options w;
  w.max_attempts = c.validation.max_attempts;
  w.batch = c.validation.workers;
  // A claim must outlive one validation (the worker's contract), with room to write the outcome.
  w.lease = std::max<std::chrono::milliseconds>(w.lease, 3 * c.validation.timeout);
  acme_->worker = std::make_unique<acme::ChallengeWorker>(*store_, *acme_->validator, *scheduler_,
                                                          clock_, logger_, w);
  acme_->worker->Start();
  acme::ChallengeWorker* worker = acme_->worker.get();
  acme::ServerOptions options;
  options.public_url = c.public_url;
  options.terms_of_service = c.terms_of_service;
  options.website = c.website;
  options.nonce_lifetime = c.nonce_lifetime;
  Result<crypto::Bytes> nonce_key = acme::NonceCodec::SharedKey(*store_, clock_.Now());
  if (!nonce_key.ok()) return nonce_key.error().WithContext("ACME nonce key");
  options.nonce_key = std::move(nonce_key).value();
  options.order_lifetime = c.order_lifetime;
  options.authz_lifetime = c.authz_lifetime;
  options.retry_after = c.retry_after;
  options.max_body_bytes = std::min(config_.server.max_body_bytes, crypto::jose::kMaxJwsBodyBytes);
  acme_->server = std::make_unique<acme::AcmeServer>(
      *store_, *store_, *issuance_, [this] { return this->mapping(); }, worker, clock_, logger_,
      options);
  acme_->server->RegisterRoutes(router_);
  ScheduleNoncePurge();
  return Ok();
}

Result<void> App::StartEst() {
  if (!ServesEst(config_.accounts)) return Ok();
  est::ServerOptions options;
  options.default_label = config_.est.default_label;
  options.max_body_bytes = config_.est.max_body_bytes;
  // Embedded: the emulator's CA issues every certificate. Remote: SCM's issuing CAs are not
  // known here; accounts name theirs in est.ca_certs_file.
  options.default_ca_certs_pem = scm_ca_pem_;
  EG_ASSIGN_OR_RETURN(
      options.server_key_kek,
      LoadOrCreateKek(config_.est.server_key_kek_file.empty()
                          ? (fs::path(config_.state_dir) / "est-server-key.kek").string()
                          : config_.est.server_key_kek_file,
                      "est.server_key_kek_file", logger_));
  est_ = std::make_unique<est::EstServer>(
      *store_, *store_, *issuance_, [this] { return this->mapping(); }, clock_, logger_,
      std::move(options));
  est_->RegisterRoutes(router_);
  ScheduleServerKeyPurge();
  logger_.Info("EST server ready", {{"default_label", config_.est.default_label}});
  return Ok();
}

void App::ScheduleServerKeyPurge() {
  // The EST server outlives the scheduler's tasks (Shutdown stops the scheduler first).
  scheduler_->After(
      std::chrono::duration_cast<std::chrono::milliseconds>(kServerKeyPurgeInterval), [this] {
        Result<int64_t> purged = est_->PurgeServerKeys();
        if (!purged.ok()) {
          logger_.Warn("est: server-generated key purge failed",
                       {{"error", purged.error().ToString()}});
        } else if (*purged > 0) {
          logger_.Info("est: server-generated keys past retention purged", {{"count", *purged}});
        }
        ScheduleServerKeyPurge();
      });
}

Result<void> App::ConfigureClientCertificates(HttpServerOptions& options,
                                              const std::vector<std::string>& issuer_pems) {
  options.channel_binding_prefix = std::string(est::kWellKnownPrefix);
  options.trusted_proxies = config_.est.trusted_proxies;
  options.client_cert_header = config_.est.client_cert_header;
  if (est_ == nullptr || !WantsClientCertificates(config_.accounts)) return Ok();
  // The CA names the certificate request lists (a hint for clients; the EST server verifies):
  // the accounts' anchors, the CAs the gateway's certificates come from.
  std::string names;
  auto add = [&names](const std::string& pem) {
    if (pem.empty()) return;
    names += pem;
    if (names.back() != '\n') names += '\n';
  };
  for (const config::AccountConfig& a : config_.accounts) {
    if (!a.Allows(config::Protocol::kEst)) continue;
    for (const std::string& file : a.est.client_cert_anchor_files) {
      Result<std::string> pem = ReadFile(file);
      if (!pem.ok()) return pem.error().WithContext("EST client certificate anchors");
      add(*pem);
    }
    add(a.est.ca_certs_pem);
  }
  add(scm_ca_pem_);
  for (const std::string& pem : issuer_pems) add(pem);
  if (names.empty()) add(options.cert_chain_pem);  // any name will do: clients send theirs
  options.client_certificates = ClientCertMode::kRequest;
  options.client_ca_pem = std::move(names);
  return Ok();
}

void App::ScheduleNoncePurge() {
  // Store and clock outlive the scheduler, which drops this task once it is shut down.
  scheduler_->After(
      std::chrono::duration_cast<std::chrono::milliseconds>(kNoncePurgeInterval), [this] {
        Result<int64_t> purged = store_->PurgeNonces(clock_.Now());
        if (!purged.ok()) {
          logger_.Warn("acme: nonce purge failed", {{"error", purged.error().ToString()}});
        } else if (*purged > 0) {
          logger_.Debug("acme: used nonces past their expiry purged", {{"count", *purged}});
        }
        ScheduleNoncePurge();
      });
}

Result<std::unique_ptr<ScmApi>> App::CreateScm() {
  const config::ScmConfig& scm = config_.scm;
  scm_client::Options options;
  options.connect_timeout = scm.connect_timeout;
  options.request_timeout = scm.request_timeout;
  options.max_attempts = scm.max_attempts;
  if (scm.mode == config::ScmMode::kEmbedded) {
    options.base_url = emulator_->base_url();
    options.ca_bundle_pem = scm_ca_pem_;
    options.auth = scm_client::AuthMode::kPassword;
    options.customer_uri = kEmbeddedCustomerUri;
    options.login = kEmbeddedLogin;
    options.password = kEmbeddedPassword;
    options.oauth_client_id = kEmbeddedCodeSigningClientId;
    options.oauth_client_secret = kEmbeddedCodeSigningSecret;
  } else {
    options.base_url = scm.base_url;
    options.code_signing_base_url = scm.code_signing_base_url;
    options.ca_bundle_pem = scm.ca_bundle_pem;  // read by the loader; "" = system store
    options.customer_uri = scm.auth.customer_uri;
    options.login = scm.auth.login;
    // Code signing always goes through SCM's REST enrollment API with OAuth2, whatever the
    // admin API login is.
    options.oauth_token_url = scm.auth.oauth_token_url;
    options.oauth_client_id = scm.auth.oauth_client_id;
    options.oauth_client_secret = scm.auth.oauth_client_secret_value;
    switch (scm.auth.mode) {
      case config::ScmAuthMode::kPassword:
        options.auth = scm_client::AuthMode::kPassword;
        options.password = scm.auth.password_value;
        break;
      case config::ScmAuthMode::kClientCertificate:
        options.auth = scm_client::AuthMode::kClientCertificate;
        options.client_cert_pem = scm.auth.client_cert_pem;
        options.client_key_pem = scm.auth.client_key_pem;
        break;
      case config::ScmAuthMode::kOAuth2:
        options.auth = scm_client::AuthMode::kOAuth2;
        break;
    }
  }
  Result<std::unique_ptr<ScmApi>> client = scm_client::CreateScmClient(options, logger_, clock_);
  if (!client.ok()) return client.error().WithContext("SCM client");
  return client;
}

Result<void> App::WriteCaBundle(const std::vector<std::string>& issuer_pems,
                                const std::string& leaf_chain_pem) {
  // The SCM CA first, then the issuers of our chain not already in it.
  std::vector<crypto::Certificate> certs;
  auto add = [&](const std::string& pem) -> Result<void> {
    EG_ASSIGN_OR_RETURN(std::vector<crypto::Certificate> parsed,
                        crypto::Certificate::ParsePemChain(pem));
    for (crypto::Certificate& c : parsed) {
      bool seen = false;
      for (const crypto::Certificate& have : certs) {
        seen = seen || have.FingerprintSha256() == c.FingerprintSha256();
      }
      if (!seen) certs.push_back(std::move(c));
    }
    return Ok();
  };
  if (!scm_ca_pem_.empty()) EG_TRY(add(scm_ca_pem_));
  for (const std::string& pem : issuer_pems) EG_TRY(add(pem));
  // A configured certificate without issuers: trust it directly.
  if (certs.empty()) EG_TRY(add(leaf_chain_pem));
  std::string bundle;
  for (const crypto::Certificate& c : certs) bundle += Terminated(c.Pem());

  std::string path = OrDefault(config_.server.ca_bundle_out, config_.state_dir, "ca-bundle.pem");
  std::error_code ec;
  fs::path absolute = fs::absolute(path, ec).lexically_normal();
  if (ec) return Unavailable("server.ca_bundle_out: " + ec.message());
  if (absolute.has_parent_path()) EG_TRY(MakeDirectory(absolute.parent_path().string()));
  EG_TRY(WriteFileAtomic(absolute.string(), bundle, 0644));
  ca_bundle_path_ = absolute.string();
  logger_.Info("CA bundle written", {{"path", ca_bundle_path_}, {"certificates", certs.size()}});
  return Ok();
}

std::string App::url() const {
  std::string host = config_.server.listen_host;
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  uint16_t port = server_ != nullptr ? server_->port() : config_.server.port;
  return "https://" + host + ":" + std::to_string(port);
}

std::shared_ptr<const MappingSnapshot> App::mapping() const {
  std::lock_guard<std::mutex> lock(mapping_mu_);
  return mapping_;
}

Result<std::shared_ptr<const MappingSnapshot>> App::BuildMapping(
    const std::vector<config::AccountConfig>& accounts) {
  std::vector<CertType> types;
  if (config_.server.tls_cert_file.empty()) types.push_back(CertType::kSsl);
  for (const config::AccountConfig& a : accounts) {
    if (std::find(types.begin(), types.end(), a.cert_type) == types.end()) {
      types.push_back(a.cert_type);
    }
  }
  auto snapshot = std::make_shared<MappingSnapshot>();
  snapshot->accounts = accounts;
  Result<mapping::ScmCatalog> fetched = FetchCatalog(*scm_, types);
  if (fetched.ok()) {
    snapshot->catalog = std::move(fetched).value();
    snapshot->catalog_fetched_at = clock_.Now();
  } else if (IsTransient(fetched.error())) {
    // SCM is down: serve on the last listing we published (renewals and pending work go on),
    // and say so; with none there is nothing to check the accounts against.
    Result<std::optional<MetaEntry>> stored =
        store_->GetMeta(std::string(issuance::kCatalogMetaKey));
    if (!stored.ok() || !stored->has_value()) {
      return fetched.error().WithContext(
          "SCM is unreachable and no earlier listing of its profiles is stored");
    }
    EG_ASSIGN_OR_RETURN(snapshot->catalog, issuance::DecodeCatalog((*stored)->value));
    snapshot->catalog_fetched_at = (*stored)->updated_at;
    snapshot->catalog_from_store = true;
    logger_.Warn("SCM unreachable: using the profile listing published earlier",
                 {{"error", fetched.error().ToString()},
                  {"published_at", FormatRfc3339((*stored)->updated_at)}});
  } else {
    return fetched.error();
  }
  Result<void> valid = mapping::ValidateAccounts(snapshot->accounts, snapshot->catalog);
  if (!valid.ok()) {
    return InvalidArgument("the enrollment accounts do not match SCM's profiles:\n" +
                           valid.error().message());
  }
  if (!snapshot->catalog_from_store) {
    Result<void> published =
        store_->PutMeta(std::string(issuance::kCatalogMetaKey),
                        issuance::EncodeCatalog(snapshot->catalog), snapshot->catalog_fetched_at);
    if (!published.ok()) return published.error().WithContext("publishing SCM's listing");
  }
  logger_.Info("enrollment accounts checked against SCM",
               {{"accounts", snapshot->accounts.size()},
                {"scm_profiles", snapshot->catalog.profiles.size()},
                {"from_store", snapshot->catalog_from_store}});
  return std::shared_ptr<const MappingSnapshot>(std::move(snapshot));
}

Result<void> App::Reload(const config::Config& config) {
  std::vector<std::string> kept;
  if (config.state_dir != config_.state_dir) kept.push_back("state_dir");
  if (config.server.port != config_.server.port ||
      config.server.listen_host != config_.server.listen_host ||
      config.server.tls_cert_file != config_.server.tls_cert_file ||
      config.server.tls_names != config_.server.tls_names) {
    kept.push_back("server");
  }
  if (config.store.sqlite_path != config_.store.sqlite_path) kept.push_back("store");
  if (config.scm.mode != config_.scm.mode || config.scm.base_url != config_.scm.base_url ||
      config.scm.auth.login != config_.scm.auth.login ||
      config.scm.auth.customer_uri != config_.scm.auth.customer_uri) {
    kept.push_back("scm");
  }
  const config::IssuanceConfig& a = config.issuance;
  const config::IssuanceConfig& b = config_.issuance;
  if (a.wait_budget != b.wait_budget || a.poll_initial != b.poll_initial ||
      a.poll_max != b.poll_max || a.claim_lease != b.claim_lease || a.poll_tick != b.poll_tick ||
      a.webhook_timeout != b.webhook_timeout || a.webhook_max_age != b.webhook_max_age ||
      a.revocation_check != b.revocation_check || a.revocation_batch != b.revocation_batch) {
    kept.push_back("issuance");
  }
  {
    const config::AcmeConfig& x = config.acme;
    const config::AcmeConfig& y = config_.acme;
    if (x.public_url != y.public_url || x.terms_of_service != y.terms_of_service ||
        x.website != y.website || x.nonce_lifetime != y.nonce_lifetime ||
        x.order_lifetime != y.order_lifetime || x.authz_lifetime != y.authz_lifetime ||
        x.retry_after != y.retry_after || x.validation.http01_port != y.validation.http01_port ||
        x.validation.tls_alpn01_port != y.validation.tls_alpn01_port ||
        x.validation.dns_server != y.validation.dns_server ||
        x.validation.hosts != y.validation.hosts || x.validation.timeout != y.validation.timeout ||
        x.validation.max_attempts != y.validation.max_attempts ||
        x.validation.workers != y.validation.workers) {
      kept.push_back("acme");
    }
  }
  {
    const config::EstConfig& x = config.est;
    const config::EstConfig& y = config_.est;
    if (x.trusted_proxies != y.trusted_proxies || x.client_cert_header != y.client_cert_header ||
        x.default_label != y.default_label || x.server_key_kek_file != y.server_key_kek_file ||
        x.max_body_bytes != y.max_body_bytes ||
        ServesEst(config.accounts) != ServesEst(config_.accounts) ||
        WantsClientCertificates(config.accounts) != WantsClientCertificates(config_.accounts)) {
      kept.push_back("est");
    }
  }
  Result<std::shared_ptr<const MappingSnapshot>> next = BuildMapping(config.accounts);
  if (!next.ok()) {
    logger_.Error("reload refused; the previous enrollment accounts stay in force",
                  {{"error", next.error().ToString()}});
    return next.error();
  }
  for (const std::string& warning : config.warnings) logger_.Warn("config", {{"warning", warning}});
  if (!kept.empty()) {
    std::string names;
    for (const std::string& k : kept) names += (names.empty() ? "" : ", ") + k;
    logger_.Warn("reload: these settings changed but take effect only after a restart",
                 {{"sections", names}});
  }
  {
    std::lock_guard<std::mutex> lock(mapping_mu_);
    mapping_ = std::move(next).value();
  }
  config_.accounts = config.accounts;
  logger_.Info("reloaded", {{"accounts", config.accounts.size()}});
  return Ok();
}

bool App::Shutdown() {
  if (shut_down_) return true;
  shut_down_ = true;
  bool drained = true;
  if (server_ != nullptr) {
    drained = server_->Drain(std::chrono::steady_clock::now() + config_.server.drain_timeout);
    server_.reset();
  }
  // Background work stops before what it uses: no new passes, then the workers are joined (a
  // pass in flight finishes its SCM call, bounded by the client's timeouts; whatever it leaves
  // is in the store for the next start).
  // The ACME worker and validators stop before the issuance service and scheduler they use.
  if (acme_ != nullptr) acme_->Stop();
  if (issuance_ != nullptr) issuance_->Stop();
  if (notifier_ != nullptr) notifier_->Stop();
  if (scheduler_ != nullptr) scheduler_->Shutdown();
  est_.reset();
  acme_.reset();
  issuance_.reset();
  notifier_.reset();
  if (emulator_ != nullptr) {
    emulator_->Stop();
    logger_.Info("embedded SCM emulator stopped");
  }
  return drained;
}

}  // namespace eg::daemon
