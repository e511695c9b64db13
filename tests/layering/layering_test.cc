// The module table of ../shared/design/architecture.md, checked on every #include in the tree:
// a module may include only the project modules and third-party libraries its row allows, and
// nothing includes daemon/. CMake's per-module targets enforce the same edges at link time; this
// test keeps the table and the code from drifting apart and names the offending line.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

struct Rule {
  std::vector<std::string> modules;      // project directories it may include from
  std::vector<std::string> third_party;  // header prefixes of libraries it may use
};

// Third-party header prefixes, by library.
const std::vector<std::string> kOpenSsl = {"openssl/"};
const std::vector<std::string> kNlohmann = {"nlohmann/"};
const std::vector<std::string> kBoost = {"boost/"};
const std::vector<std::string> kMhd = {"microhttpd.h"};
const std::vector<std::string> kGnutls = {"gnutls/"};
const std::vector<std::string> kSqlite = {"sqlite3.h"};
const std::vector<std::string> kAres = {"ares.h", "ares_"};
const std::vector<std::string> kSystemd = {"systemd/"};
const std::vector<std::string> kGtest = {"gtest/", "gmock/"};

std::vector<std::string> Join(std::initializer_list<std::vector<std::string>> parts) {
  std::vector<std::string> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// Longest matching module prefix wins (crypto/jose before crypto).
const std::map<std::string, Rule>& Table() {
  static const std::map<std::string, Rule> table = {
      {"core", {{"core"}, {}}},
      {"crypto", {{"core", "crypto"}, kOpenSsl}},
      {"crypto/jose", {{"core", "crypto"}, Join({kOpenSsl, kNlohmann})}},
      {"config", {{"core", "config"}, kNlohmann}},
      {"mapping", {{"core", "crypto", "config", "mapping"}, {}}},
      // issuance keeps the durable request as JSON (nlohmann), no I/O libraries.
      {"issuance", {{"core", "crypto", "config", "mapping", "issuance"}, kNlohmann}},
      {"scm/client", {{"core", "crypto", "scm/client"}, Join({kOpenSsl, kBoost, kNlohmann})}},
      {"scm/emulator",
       {{"core", "crypto", "scm/emulator"}, Join({kMhd, kGnutls, kNlohmann, kSqlite})}},
      {"storage", {{"core", "storage"}, kSqlite}},
      {"protocols/http", {{"core", "protocols/http"}, {}}},
      {"protocols/acme",
       {{"core", "crypto", "mapping", "issuance", "protocols/http", "protocols/acme"}, kNlohmann}},
      // The challenge validators: network I/O only, no protocol or issuance types (narrower
      // than protocols/acme's row in the architecture table, which they sit under).
      {"protocols/acme/validation",
       {{"core", "crypto", "protocols/acme/validation"}, Join({kBoost, kOpenSsl, kAres})}},
      {"protocols/est",
       {{"core", "crypto", "mapping", "issuance", "protocols/http", "protocols/est"}, {}}},
      {"daemon",
       {{"core", "crypto", "config", "mapping", "issuance", "scm/client", "scm/emulator", "storage",
         "protocols/http", "protocols/acme", "protocols/est", "daemon"},
        Join({kOpenSsl, kNlohmann, kBoost, kMhd, kGnutls, kSqlite, kAres, kSystemd})}},
      {"tools",
       {{"core", "crypto", "config", "mapping", "issuance", "scm/client", "scm/emulator", "storage",
         "protocols/http", "protocols/acme", "protocols/est", "tools"},
        Join({kOpenSsl, kNlohmann, kBoost, kSqlite})}},
      // bench speaks JWS/EAB (crypto/jose) over scm/client's keep-alive HTTPS transport; it never
      // reaches into the server's modules.
      {"bench",
       {{"core", "crypto", "crypto/jose", "scm/client", "bench"},
        Join({kOpenSsl, kNlohmann, kBoost})}},
  };
  return table;
}

const std::vector<std::string>& ProjectDirs() {
  static const std::vector<std::string> dirs = {
      "core",          "crypto",       "config",  "mapping",        "issuance",
      "scm/client",    "scm/emulator", "storage", "protocols/http", "protocols/acme",
      "protocols/est", "daemon",       "tools",   "bench"};
  return dirs;
}

bool HasPrefix(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

// "" when `rel` (path relative to the root) is not in a module.
std::string ModuleOf(const std::string& rel) {
  std::string best;
  for (const auto& [mod, rule] : Table()) {
    if (HasPrefix(rel, mod + "/") && mod.size() > best.size()) best = mod;
  }
  return best;
}

bool IsProjectInclude(const std::string& inc) {
  for (const auto& d : ProjectDirs()) {
    if (HasPrefix(inc, d + "/")) return true;
  }
  return false;
}

bool IsThirdParty(const std::string& inc) {
  for (const auto* lib :
       {&kOpenSsl, &kNlohmann, &kBoost, &kMhd, &kGnutls, &kSqlite, &kAres, &kSystemd, &kGtest}) {
    for (const auto& p : *lib) {
      if (HasPrefix(inc, p)) return true;
    }
  }
  return false;
}

std::vector<std::string> Violations(const fs::path& root) {
  std::vector<std::string> out;
  static const std::regex include_re(R"(^\s*#\s*include\s*[<"]([^>"]+)[>"])");
  for (const auto& [mod, rule] : Table()) {
    fs::path dir = root / mod;
    if (!fs::is_directory(dir)) continue;
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
      if (!entry.is_regular_file()) continue;
      std::string ext = entry.path().extension().string();
      if (ext != ".h" && ext != ".cc") continue;
      std::string rel = fs::relative(entry.path(), root).generic_string();
      if (ModuleOf(rel) != mod) continue;  // belongs to a more specific module
      const Rule& r = Table().at(mod);
      std::ifstream in(entry.path());
      std::string line;
      int n = 0;
      while (std::getline(in, line)) {
        ++n;
        std::smatch m;
        if (!std::regex_search(line, m, include_re)) continue;
        std::string inc = m[1].str();
        std::string where = rel + ":" + std::to_string(n) + ": " + mod + " includes " + inc;
        if (IsProjectInclude(inc)) {
          bool ok = false;
          for (const auto& allowed : r.modules) {
            // "crypto" allows "crypto/jose/..." too; "protocols/acme" allows its validation/.
            if (HasPrefix(inc, allowed + "/")) ok = true;
          }
          if (HasPrefix(inc, "daemon/") && mod != "daemon") ok = false;
          if (!ok) out.push_back(where + " (module not allowed)");
        } else if (IsThirdParty(inc)) {
          bool ok = false;
          for (const auto& p : r.third_party) {
            if (HasPrefix(inc, p)) ok = true;
          }
          if (!ok) out.push_back(where + " (library not allowed)");
        }
        // Anything else is the standard library or a system header: allowed.
      }
    }
  }
  return out;
}

TEST(Layering, TreeFollowsTheModuleTable) {
  std::vector<std::string> v = Violations(EG_SOURCE_DIR);
  std::string all;
  for (const auto& s : v) all += "  " + s + "\n";
  EXPECT_TRUE(v.empty()) << "forbidden includes:\n" << all;
}

TEST(Layering, CheckerReportsEachForbiddenInclude) {
  // The checker itself must be able to fail: build a tiny tree with two violations.
  char tmpl[] = "/tmp/eg-layering-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  fs::path root = tmpl;
  fs::create_directories(root / "core");
  fs::create_directories(root / "protocols/http");
  std::ofstream(root / "core/bad.h") << "#include <openssl/evp.h>\n#include <vector>\n";
  std::ofstream(root / "protocols/http/bad.cc")
      << "#include \"protocols/http/ok.h\"\n#include \"storage/sqlite_store.h\"\n"
         "#include \"daemon/app.h\"\n#include <microhttpd.h>\n";
  std::vector<std::string> v = Violations(root);
  fs::remove_all(root);
  ASSERT_EQ(v.size(), 4u);
  EXPECT_NE(v[0].find("core/bad.h:1"), std::string::npos);
  EXPECT_NE(v[1].find("storage/sqlite_store.h"), std::string::npos);
  EXPECT_NE(v[2].find("daemon/app.h"), std::string::npos);
  EXPECT_NE(v[3].find("microhttpd.h"), std::string::npos);
}

}  // namespace
