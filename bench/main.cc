// enrollgate-bench: the load generator (issue 6). `enrollgate-bench acme ...` drives any RFC 8555
// server, `enrollgate-bench est ...` any RFC 7030 server; both print a summary (rate, p50/p95/p99
// per step, errors by type, the bench's own CPU) and write it as JSON with --json FILE.
// `--smoke` makes a run tiny (2 clients x 2) and the exit status non-zero on any error.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "bench/acme_load.h"
#include "bench/est_load.h"
#include "bench/stats.h"

namespace {

using eg::bench::AcmeLoadOptions;
using eg::bench::EstLoadOptions;

constexpr const char* kUsage = R"(usage:
  enrollgate-bench acme --directory URL [--eab-kid K --eab-hmac H]... [--eab-file F]
                        [--clients N] [--orders M] [--ca-bundle F] [--domain D]
                        [--max-wait-ms MS] [--default-wait-ms MS] [--json FILE] [--smoke]
  enrollgate-bench est --base URL --user U --password P [--clients N] [--requests M]
                       [--reenroll] [--ca-bundle F] [--domain D] [--json FILE] [--smoke]

acme: N virtual clients (one thread, one keep-alive HTTPS connection each) register once (with
  their own EAB credential when given: --eab-kid/--eab-hmac pairs in order, or --eab-file with
  "KID HMAC" per line; one per client), then each runs M flows newOrder -> authorizations
  (answers a pending http-01 challenge) -> finalize -> poll (Retry-After, capped by
  --max-wait-ms, default 1000; --default-wait-ms, default 50, when absent) -> certificate.
est: N clients each send M simpleenroll requests (HTTP Basic), and with --reenroll a
  simplereenroll with the issued certificate as TLS client certificate after each.
Keys and CSRs are made before the clock starts. --domain (default example.test) is the
  suffix of every name requested. --smoke: 2 clients x 2, exit 1 on any error.
Exit status: 0, 1 when --smoke saw an error or setup failed, 2 on a usage error.
)";

std::string ReadFile(const std::string& path, bool* ok) {
  std::ifstream in(path, std::ios::binary);
  *ok = static_cast<bool>(in);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

int Usage(const std::string& why) {
  std::fprintf(stderr, "enrollgate-bench: %s\n%s", why.c_str(), kUsage);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  const std::string mode = args[0];
  if (mode != "acme" && mode != "est") return Usage("unknown mode " + mode);

  AcmeLoadOptions acme;
  EstLoadOptions est;
  std::vector<std::string> kids, hmacs;
  std::string json_path;
  bool smoke = false;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= args.size()) return false;
      *out = args[++i];
      return true;
    };
    auto number = [&](int* out) {
      std::string v;
      if (!value(&v)) return false;
      char* end = nullptr;
      const long n = std::strtol(v.c_str(), &end, 10);
      if (end == v.c_str() || *end != '\0' || n < 0 || n > 1000000) return false;
      *out = static_cast<int>(n);
      return true;
    };
    std::string v;
    int n = 0;
    bool ok = true;
    if (a == "--smoke") {
      smoke = true;
    } else if (a == "--reenroll") {
      est.reenroll = true;
    } else if (a == "--directory") {
      ok = value(&acme.directory_url);
    } else if (a == "--base") {
      ok = value(&est.base_url);
    } else if (a == "--user") {
      ok = value(&est.user);
    } else if (a == "--password") {
      ok = value(&est.password);
    } else if (a == "--eab-kid") {
      ok = value(&v);
      kids.push_back(v);
    } else if (a == "--eab-hmac") {
      ok = value(&v);
      hmacs.push_back(v);
    } else if (a == "--eab-file") {
      ok = value(&v);
      bool read = false;
      std::istringstream lines(ReadFile(v, &read));
      if (!read) return Usage("cannot read " + v);
      std::string kid, hmac;
      while (lines >> kid >> hmac) {
        kids.push_back(kid);
        hmacs.push_back(hmac);
      }
    } else if (a == "--clients") {
      ok = number(&n);
      acme.clients = est.clients = n;
    } else if (a == "--orders") {
      ok = number(&acme.orders);
    } else if (a == "--requests") {
      ok = number(&est.requests);
    } else if (a == "--max-wait-ms") {
      ok = number(&n);
      acme.max_wait = est.max_wait = std::chrono::milliseconds(n);
    } else if (a == "--default-wait-ms") {
      ok = number(&n);
      acme.default_wait = std::chrono::milliseconds(n);
    } else if (a == "--domain") {
      ok = value(&v);
      acme.domain = est.domain = v;
    } else if (a == "--ca-bundle") {
      ok = value(&v);
      bool read = false;
      acme.ca_bundle_pem = est.ca_bundle_pem = ReadFile(v, &read);
      if (!read) return Usage("cannot read " + v);
    } else if (a == "--json") {
      ok = value(&json_path);
    } else {
      return Usage("unknown option " + a);
    }
    if (!ok) return Usage("bad or missing value for " + a);
  }
  if (kids.size() != hmacs.size()) return Usage("--eab-kid and --eab-hmac must come in pairs");
  for (size_t i = 0; i < kids.size(); ++i) acme.eab.push_back({kids[i], hmacs[i]});
  if (smoke) {
    acme.clients = est.clients = 2;
    acme.orders = est.requests = 2;
  }

  eg::Result<nlohmann::json> summary = eg::Internal("no run");
  if (mode == "acme") {
    if (acme.directory_url.empty()) return Usage("acme needs --directory");
    summary = eg::bench::RunAcmeLoad(acme);
  } else {
    if (est.base_url.empty() || est.user.empty()) return Usage("est needs --base and --user");
    while (!est.base_url.empty() && est.base_url.back() == '/') est.base_url.pop_back();
    summary = eg::bench::RunEstLoad(est);
  }
  if (!summary.ok()) {
    std::fprintf(stderr, "enrollgate-bench: %s\n", summary.error().ToString().c_str());
    return 1;
  }
  std::cout << eg::bench::FormatReport(*summary);
  if (summary->contains("error_examples")) {
    for (const auto& e : (*summary)["error_examples"]) {
      std::cout << "  e.g. " << e.get<std::string>() << "\n";
    }
  }
  if (!json_path.empty()) {
    std::ofstream out(json_path);
    out << summary->dump(2) << "\n";
    if (!out) {
      std::fprintf(stderr, "enrollgate-bench: cannot write %s\n", json_path.c_str());
      return 1;
    }
  }
  const long errors = (*summary)["error_total"].get<long>();
  const long completed = (*summary)["completed"].get<long>();
  if (smoke && (errors != 0 || completed == 0)) {
    std::fprintf(stderr, "enrollgate-bench: smoke run failed (%ld errors, %ld completed)\n", errors,
                 completed);
    return 1;
  }
  return 0;
}
