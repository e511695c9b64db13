#include "tools/session.h"

#include <filesystem>
#include <system_error>

#include "issuance/catalog_codec.h"
#include "storage/sqlite_store.h"

namespace eg::tools {

namespace fs = std::filesystem;

namespace {

// Key types a profile may name (config/docs): what CSRs can carry.
const std::vector<std::pair<std::string, std::vector<std::string>>>& AllKeyTypes() {
  static const std::vector<std::pair<std::string, std::vector<std::string>>> all = {
      {"RSA", {"2048", "3072", "4096", "8192"}},
      {"EC", {"P-256", "P-384", "P-521"}},
      {"EdDSA", {"Ed25519", "Ed448"}},
  };
  return all;
}

}  // namespace

std::string FindRepositoryRoot(const std::string& start) {
  if (start.empty()) return "";
  std::error_code ec;
  fs::path dir = fs::absolute(start, ec);
  if (ec) return "";
  dir = dir.lexically_normal();
  while (true) {
    if (fs::is_regular_file(dir / "config" / "embedded.json", ec) &&
        fs::is_regular_file(dir / "CMakeLists.txt", ec)) {
      return dir.string();
    }
    if (!dir.has_parent_path() || dir.parent_path() == dir) return "";
    dir = dir.parent_path();
  }
}

Result<std::string> ResolveConfigPath(const std::string& flag, const Environment& env) {
  if (!flag.empty()) return flag;
  if (auto from_env = env.getenv("ENROLLGATE_CONFIG"); from_env && !from_env->empty()) {
    return *from_env;
  }
  std::string root = FindRepositoryRoot(env.cwd);
  if (root.empty() && !env.exe_path.empty()) {
    root = FindRepositoryRoot(fs::path(env.exe_path).parent_path().string());
  }
  if (!root.empty()) return (fs::path(root) / "config" / "embedded.json").string();
  return InvalidArgument(
      "no configuration: pass --config FILE or set ENROLLGATE_CONFIG to the file enrollgated "
      "uses (inside the repository, config/embedded.json is the default)");
}

std::string AcmeDirectoryUrl(const config::Config& config) {
  std::string host =
      config.server.tls_names.empty() ? config.server.listen_host : config.server.tls_names.front();
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return "https://" + host + ":" + std::to_string(config.server.port) + "/acme/directory";
}

bool ServerCertFromEmulator(const config::Config& config) {
  return config.scm.mode == config::ScmMode::kEmbedded && config.server.tls_cert_file.empty();
}

Result<config::Config> LoadToolConfig(const std::string& path, const GetEnv& getenv,
                                      bool read_secrets) {
  config::LoadOptions options;
  options.read_secrets = read_secrets;
  Result<config::Config> loaded = config::LoadConfigFile(path, options);
  if (!loaded.ok()) return loaded.error().WithContext(path);
  EG_TRY(config::ApplyEnvironment(*loaded, getenv));
  return loaded;
}

Result<Store*> Session::OpenStore(bool create) {
  if (store_) return store_.get();
  const std::string& path = config_.store.sqlite_path;
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    if (!create) {
      return NotFound("no store at " + path + " yet (enrollgated has not run with this config)");
    }
    fs::create_directories(fs::path(path).parent_path(), ec);
    if (ec) {
      return Unavailable("store.sqlite_path: cannot create " +
                         fs::path(path).parent_path().string() + ": " + ec.message());
    }
  }
  storage::SqliteOptions options;
  options.path = path;
  options.connections = 1;
  auto opened = storage::SqliteStore::Open(options);
  if (!opened.ok()) return opened.error().WithContext("store " + path);
  store_ = std::move(opened).value();
  return store_.get();
}

Result<std::optional<PublishedCatalog>> Session::LoadCatalog() {
  Result<Store*> store = OpenStore(/*create=*/false);
  if (!store.ok()) {
    if (store.error().code() == ErrorCode::kNotFound) return std::optional<PublishedCatalog>();
    return store.error();
  }
  EG_ASSIGN_OR_RETURN(std::optional<MetaEntry> entry,
                      (*store)->GetMeta(std::string(issuance::kCatalogMetaKey)));
  if (!entry) return std::optional<PublishedCatalog>();
  Result<mapping::ScmCatalog> catalog = issuance::DecodeCatalog(entry->value);
  if (!catalog.ok()) {
    return catalog.error().WithContext("the published SCM listing (store entry scm_catalog)");
  }
  return std::optional<PublishedCatalog>(
      PublishedCatalog{std::move(catalog).value(), entry->updated_at});
}

const config::AccountConfig* Session::FindAccount(std::string_view name) const {
  for (const auto& a : config_.accounts) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

const config::AccountConfig* Session::FindAccountByEstLabel(std::string_view label) const {
  for (const auto& a : config_.accounts) {
    if (a.Allows(config::Protocol::kEst) && a.est.label == label) return &a;
  }
  return nullptr;
}

mapping::ScmCatalog CatalogFromConfig(const config::Config& config) {
  mapping::ScmCatalog catalog;
  for (const auto& account : config.accounts) {
    for (const auto& profile : account.profiles) {
      ScmProfile* p = nullptr;
      for (auto& [type, existing] : catalog.profiles) {
        if (type == account.cert_type && existing.id == profile.scm_profile_id) p = &existing;
      }
      if (p == nullptr) {
        ScmProfile fresh;
        fresh.id = profile.scm_profile_id;
        catalog.profiles.emplace_back(account.cert_type, std::move(fresh));
        p = &catalog.profiles.back().second;
      }
      if (std::find(p->terms.begin(), p->terms.end(), profile.term_days) == p->terms.end()) {
        p->terms.push_back(profile.term_days);
      }
      // Key types: the profile's own list, else everything (SCM's list is unknown).
      std::vector<std::pair<std::string, std::string>> wanted;
      if (profile.key_types.empty()) {
        for (const auto& [alg, params] : AllKeyTypes()) {
          for (const auto& param : params) wanted.emplace_back(alg, param);
        }
      } else {
        for (const auto& label : profile.key_types) {
          size_t dash = label.find('-');
          if (dash == std::string::npos) continue;
          wanted.emplace_back(label.substr(0, dash), label.substr(dash + 1));
        }
      }
      for (const auto& wanted_type : wanted) {
        // Named, not a structured binding: clang 14 cannot capture those in the lambda.
        const std::string& alg = wanted_type.first;
        const std::string& param = wanted_type.second;
        if (mapping::ScmProfileAllows(*p, alg, param)) continue;
        auto it = std::find_if(p->key_types.begin(), p->key_types.end(),
                               [&](const auto& entry) { return entry.first == alg; });
        if (it == p->key_types.end()) {
          p->key_types.push_back({alg, {param}});
        } else {
          it->second.push_back(param);
        }
      }
    }
  }
  return catalog;
}

std::string AdminUser(const GetEnv& getenv) {
  for (const char* name : {"SUDO_USER", "USER"}) {
    if (auto v = getenv(name); v && !v->empty()) return *v;
  }
  return "admin";
}

}  // namespace eg::tools
