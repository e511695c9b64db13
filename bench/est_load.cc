#include "bench/est_load.h"

#include <memory>
#include <optional>
#include <thread>

#include "bench/http.h"
#include "bench/stats.h"
#include "crypto/base64.h"
#include "crypto/csr.h"
#include "crypto/key.h"
#include "crypto/pkcs7.h"
#include "crypto/x509.h"

namespace eg::bench {

namespace {

using nlohmann::json;

struct Prepared {
  std::string name;
  std::unique_ptr<crypto::PrivateKey> key;
  std::string csr_b64;                        // simpleenroll
  std::unique_ptr<crypto::PrivateKey> rekey;  // simplereenroll's new key
};

Result<std::string> CsrBase64(const std::string& name, const crypto::PrivateKey& key) {
  crypto::CsrRequest request;
  request.subject.common_name = name;
  request.sans.dns = {name};
  EG_ASSIGN_OR_RETURN(auto csr, crypto::BuildCsr(request, key));
  return crypto::Base64Encode(csr.Der());
}

Result<std::string> RenewalCsrBase64(const std::string& cert_pem, const crypto::PrivateKey& key) {
  EG_ASSIGN_OR_RETURN(auto cert, crypto::Certificate::ParsePem(cert_pem));
  crypto::CsrRequest request;
  request.subject = cert.Subject();
  request.sans = cert.Sans();
  EG_ASSIGN_OR_RETURN(auto csr, crypto::BuildCsr(request, key));
  return crypto::Base64Encode(csr.Der());
}

std::string ErrorType(const std::string& step, const Reply& r) {
  if (r.status == 0) return step + ":transport";
  return step + ":" + std::to_string(r.status);
}

class EstClient {
 public:
  EstClient(const EstLoadOptions& options, int index, Recorder* recorder)
      : options_(options), index_(index), recorder_(recorder) {}

  Result<void> Prepare(const std::string& run_tag) {
    EG_ASSIGN_OR_RETURN(http_, BenchHttp::Create({.ca_bundle_pem = options_.ca_bundle_pem}));
    auth_ = "Basic " + crypto::Base64Encode(options_.user + ":" + options_.password);
    for (int i = 0; i < options_.requests; ++i) {
      Prepared p;
      p.name = "e" + run_tag + "-c" + std::to_string(index_) + "-r" + std::to_string(i) + "." +
               options_.domain;
      EG_ASSIGN_OR_RETURN(auto key, crypto::PrivateKey::Generate(crypto::KeySpec::kEcP256));
      p.key = std::make_unique<crypto::PrivateKey>(std::move(key));
      EG_ASSIGN_OR_RETURN(p.csr_b64, CsrBase64(p.name, *p.key));
      if (options_.reenroll) {
        EG_ASSIGN_OR_RETURN(auto rekey, crypto::PrivateKey::Generate(crypto::KeySpec::kEcP256));
        p.rekey = std::make_unique<crypto::PrivateKey>(std::move(rekey));
      }
      prepared_.push_back(std::move(p));
    }
    return Ok();
  }

  void Run() {
    for (Prepared& p : prepared_) {
      const auto start = Clock::now();
      std::string cert_pem;
      if (!Enroll(*http_, "simpleenroll", p.csr_b64, &cert_pem)) continue;
      recorder_->Sample("enroll", Clock::now() - start);
      if (!options_.reenroll) continue;
      // A connection that authenticates with the certificate just issued.
      const auto t = Clock::now();
      auto tls_client = BenchHttp::Create({.ca_bundle_pem = options_.ca_bundle_pem,
                                           .client_cert_pem = cert_pem,
                                           .client_key_pem = p.key->Pkcs8Pem()});
      if (!tls_client.ok()) {
        Error("reenroll:client-tls", tls_client.error().ToString());
        continue;
      }
      // RFC 7030 §4.2.2: the CSR carries the certificate's subject and SANs as issued (the CA
      // may have added fields), so it is signed here, after issuance, as a device would.
      auto recsr_b64 = RenewalCsrBase64(cert_pem, *p.rekey);
      if (!recsr_b64.ok()) {
        Error("reenroll:csr", recsr_b64.error().ToString());
        continue;
      }
      std::string renewed;
      if (!Enroll(**tls_client, "simplereenroll", *recsr_b64, &renewed)) continue;
      recorder_->Sample("reenroll", Clock::now() - t);
    }
  }

  const std::string& first_error() const { return first_error_; }

 private:
  void Error(const std::string& type, const std::string& detail) {
    recorder_->Error(type);
    if (first_error_.empty()) first_error_ = type + ": " + detail;
  }

  // One enrollment, 202 answers polled; the first issued certificate as PEM.
  bool Enroll(BenchHttp& http, const std::string& op, const std::string& csr_b64,
              std::string* cert_pem) {
    const std::string url = options_.base_url + "/" + op;
    const Headers headers = {{"Content-Type", "application/pkcs10"},
                             {"Content-Transfer-Encoding", "base64"},
                             {"Authorization", auth_}};
    const auto deadline = Clock::now() + options_.request_timeout;
    for (;;) {
      Reply r = http.Send("POST", url, csr_b64, headers);
      if (r.status == 202) {
        recorder_->Count(op + "_202");
        if (Clock::now() >= deadline) {
          Error(op + ":timeout", r.Describe());
          return false;
        }
        // The server asked to be asked again later: nothing else to wait on.
        std::this_thread::sleep_for(r.RetryAfter(options_.max_wait, options_.max_wait));
        continue;
      }
      if (r.status != 200) {
        Error(ErrorType(op, r), r.Describe());
        return false;
      }
      std::string text;
      for (char c : r.body) {
        if (c != '\r' && c != '\n' && c != ' ') text += c;
      }
      auto der = crypto::Base64Decode(text);
      if (!der.ok()) {
        Error(op + ":not-base64", r.Describe());
        return false;
      }
      auto certs = crypto::DecodeCertsOnly(*der);
      if (!certs.ok() || certs->empty()) {
        Error(op + ":not-pkcs7", certs.ok() ? "no certificate" : certs.error().ToString());
        return false;
      }
      *cert_pem = certs->front().Pem();
      return true;
    }
  }

  const EstLoadOptions& options_;
  const int index_;
  Recorder* recorder_;
  std::unique_ptr<BenchHttp> http_;
  std::string auth_;
  std::vector<Prepared> prepared_;
  std::string first_error_;
};

}  // namespace

Result<json> RunEstLoad(const EstLoadOptions& options) {
  if (options.clients < 1 || options.requests < 1) {
    return InvalidArgument("--clients and --requests must be at least 1");
  }
  const std::string run_tag =
      std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count() %
                     100000000);
  std::vector<Recorder> recorders(static_cast<size_t>(options.clients));
  std::vector<std::unique_ptr<EstClient>> clients;
  for (int c = 0; c < options.clients; ++c) {
    clients.push_back(std::make_unique<EstClient>(options, c, &recorders[static_cast<size_t>(c)]));
    EG_TRY(clients.back()->Prepare(run_tag));
  }
  RunInfo info;
  info.mode = options.reenroll ? "est+reenroll" : "est";
  info.target = options.base_url;
  info.clients = options.clients;
  info.per_client = options.requests;
  info.unit = "enrollments";
  info.flow_step = "enroll";
  return RunMeasured(
      info, recorders, [](size_t) { return true; }, [&](size_t i) { clients[i]->Run(); },
      [&](size_t i) { return clients[i]->first_error(); });
}

}  // namespace eg::bench
