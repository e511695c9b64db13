#include "bench/acme_load.h"

#include <memory>
#include <optional>
#include <thread>

#include "bench/http.h"
#include "bench/stats.h"
#include "crypto/base64.h"
#include "crypto/csr.h"
#include "crypto/jose/eab.h"
#include "crypto/jose/jws.h"
#include "crypto/key.h"

namespace eg::bench {

namespace {

using nlohmann::json;

// Why one flow stopped: the error type counted in the summary, and the detail for the log.
struct FlowError {
  std::string type;
  std::string detail;
};

std::string ErrorType(const std::string& step, const Reply& r) {
  if (r.status == 0) return step + ":transport";
  const std::string problem = r.ProblemType();
  return step + ":" + std::to_string(r.status) + (problem.empty() ? "" : ":" + problem);
}

std::chrono::milliseconds Wait(const Reply& r, const AcmeLoadOptions& options) {
  return r.RetryAfter(options.default_wait, options.max_wait);
}

class VirtualClient {
 public:
  VirtualClient(const AcmeLoadOptions& options, int index, Recorder* recorder)
      : options_(options), index_(index), recorder_(recorder) {}

  // Keys, CSRs and the connection: everything done before the clock.
  Result<void> Prepare(const std::string& run_tag) {
    EG_ASSIGN_OR_RETURN(http_, BenchHttp::Create({.ca_bundle_pem = options_.ca_bundle_pem}));
    EG_ASSIGN_OR_RETURN(auto key, crypto::PrivateKey::Generate(crypto::KeySpec::kEcP256));
    account_key_ = std::make_unique<crypto::PrivateKey>(std::move(key));
    EG_ASSIGN_OR_RETURN(alg_, crypto::jose::AlgForKey(account_key_->Public()));
    for (int i = 0; i < options_.orders; ++i) {
      const std::string name = "b" + run_tag + "-c" + std::to_string(index_) + "-o" +
                               std::to_string(i) + "." + options_.domain;
      EG_ASSIGN_OR_RETURN(auto cert_key, crypto::PrivateKey::Generate(crypto::KeySpec::kEcP256));
      crypto::CsrRequest request;
      request.subject.common_name = name;
      request.sans.dns = {name};
      EG_ASSIGN_OR_RETURN(auto csr, crypto::BuildCsr(request, cert_key));
      names_.push_back(name);
      csrs_.push_back(crypto::Base64UrlEncode(csr.Der()));
    }
    return Ok();
  }

  // Reads the directory and registers. False (recorded) when the account cannot be made.
  bool Register() {
    const auto start = Clock::now();
    Reply dir = http_->Send("GET", options_.directory_url, "", {});
    json d = dir.Json();
    if (dir.status != 200 || !d.is_object())
      return Fail({ErrorType("directory", dir), dir.Describe()});
    for (const char* name : {"newNonce", "newAccount", "newOrder"}) {
      if (!d.contains(name) || !d[name].is_string()) {
        return Fail({"directory:incomplete", std::string("no ") + name});
      }
    }
    new_nonce_ = d["newNonce"];
    new_account_ = d["newAccount"];
    new_order_ = d["newOrder"];
    json payload = {{"termsOfServiceAgreed", true},
                    {"contact", {"mailto:bench@" + options_.domain}}};
    if (!options_.eab.empty()) {
      const EabKey& eab = options_.eab[static_cast<size_t>(index_)];
      auto hmac = crypto::Base64UrlDecode(eab.hmac_b64url);
      if (!hmac.ok()) return Fail({"eab:bad-hmac", hmac.error().ToString()});
      auto binding = crypto::jose::BuildEab(eab.kid, *hmac, crypto::jose::EabAlg::kHs256,
                                            new_account_, account_key_->Public());
      if (!binding.ok()) return Fail({"eab:build", binding.error().ToString()});
      payload["externalAccountBinding"] = *binding;
    }
    Reply r = Post(new_account_, payload.dump());
    if (r.status != 200 && r.status != 201) return Fail({ErrorType("newAccount", r), r.Describe()});
    kid_ = r.Header("Location");
    if (kid_.empty()) return Fail({"newAccount:no-location", r.Describe()});
    recorder_->Sample("newAccount", Clock::now() - start);
    return true;
  }

  // Runs every flow; failures are counted and the next flow starts.
  void RunFlows() {
    for (int i = 0; i < options_.orders; ++i) {
      const auto start = Clock::now();
      std::optional<FlowError> error = Flow(i);
      if (error) {
        recorder_->Error(error->type);
        if (first_error_.empty()) first_error_ = error->detail;
      } else {
        recorder_->Sample("flow", Clock::now() - start);
      }
    }
  }

  const std::string& first_error() const { return first_error_; }

 private:
  bool Fail(FlowError e) {
    recorder_->Error(e.type);
    if (first_error_.empty()) first_error_ = e.type + ": " + e.detail;
    return false;
  }

  // A signed POST; a badNonce answer is retried once with the nonce it carried.
  Reply Post(const std::string& url, const std::string& payload) {
    Reply r;
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (nonce_.empty()) {
        Reply n = http_->Send("GET", new_nonce_, "", {});
        nonce_ = n.Header("Replay-Nonce");
        if (nonce_.empty()) {
          n.error = "newNonce gave no Replay-Nonce: " + n.Describe();
          n.status = 0;
          return n;
        }
      }
      crypto::jose::SignOptions sign;
      sign.alg = alg_;
      sign.url = url;
      sign.nonce = nonce_;
      sign.kid = kid_;
      nonce_.clear();
      auto body = crypto::jose::SignJws(*account_key_, sign, payload);
      if (!body.ok()) {
        r.error = "signing: " + body.error().ToString();
        return r;
      }
      r = http_->Send("POST", url, *body, {{"Content-Type", "application/jose+json"}});
      nonce_ = r.Header("Replay-Nonce");
      if (r.status == 400 && r.ProblemType() == "badNonce" && attempt == 0) {
        recorder_->Count("badNonce_retries");
        continue;
      }
      break;
    }
    return r;
  }

  // POST-as-GET until "status" is one of `until` (or not "pending"/"processing").
  Reply Poll(const std::string& url, const std::string& step) {
    const auto deadline = Clock::now() + options_.flow_timeout;
    for (;;) {
      Reply r = Post(url, "");
      recorder_->Count(step + "_requests");
      if (r.status != 200) return r;
      const std::string status = r.Json().value("status", "");
      if (status != "pending" && status != "processing") return r;
      if (Clock::now() >= deadline) {
        r.status = 0;
        r.error = "timed out in " + status;
        return r;
      }
      // Polling a remote server: the only thing to wait for is its next answer.
      std::this_thread::sleep_for(Wait(r, options_));
    }
  }

  std::optional<FlowError> Flow(int i) {
    // newOrder
    auto t = Clock::now();
    json ids = json::array({{{"type", "dns"}, {"value", names_[static_cast<size_t>(i)]}}});
    Reply order = Post(new_order_, json{{"identifiers", ids}}.dump());
    if (order.status != 201) return FlowError{ErrorType("newOrder", order), order.Describe()};
    const std::string order_url = order.Header("Location");
    json o = order.Json();
    if (order_url.empty() || !o.is_object()) return FlowError{"newOrder:malformed", order.body};
    recorder_->Sample("newOrder", Clock::now() - t);

    // Authorizations (and a challenge when one is pending).
    t = Clock::now();
    for (const json& a : o.value("authorizations", json::array())) {
      if (!a.is_string()) return FlowError{"authz:malformed", o.dump()};
      Reply authz = Post(a, "");
      if (authz.status != 200) return FlowError{ErrorType("authz", authz), authz.Describe()};
      json z = authz.Json();
      if (z.value("status", "") == "valid") continue;
      if (z.value("status", "") != "pending") return FlowError{"authz:not-pending", authz.body};
      std::string challenge;
      for (const json& c : z.value("challenges", json::array())) {
        if (c.value("type", "") == "http-01") challenge = c.value("url", "");
      }
      if (challenge.empty()) return FlowError{"authz:no-http-01", authz.body};
      Reply answer = Post(challenge, "{}");
      if (answer.status != 200) return FlowError{ErrorType("challenge", answer), answer.Describe()};
      Reply done = Poll(a, "authz_poll");
      if (done.status != 200) return FlowError{ErrorType("authz_poll", done), done.Describe()};
      if (done.Json().value("status", "") != "valid") {
        return FlowError{"authz:invalid", done.body};
      }
    }
    recorder_->Sample("authz", Clock::now() - t);

    // The order may still say pending right after the authorizations became valid.
    if (o.value("status", "") == "pending") {
      Reply ready = Poll(order_url, "order_poll");
      o = ready.Json();
      if (ready.status != 200 || o.value("status", "") != "ready") {
        return FlowError{ErrorType("order_ready", ready), ready.Describe()};
      }
    }

    // finalize
    t = Clock::now();
    Reply fin = Post(o.value("finalize", ""), json{{"csr", csrs_[static_cast<size_t>(i)]}}.dump());
    if (fin.status != 200) return FlowError{ErrorType("finalize", fin), fin.Describe()};
    recorder_->Sample("finalize", Clock::now() - t);
    o = fin.Json();

    // poll to valid
    t = Clock::now();
    if (o.value("status", "") != "valid") {
      if (o.value("status", "") == "processing") std::this_thread::sleep_for(Wait(fin, options_));
      Reply valid = Poll(order_url, "order_poll");
      o = valid.Json();
      if (valid.status != 200 || o.value("status", "") != "valid") {
        return FlowError{ErrorType("poll", valid), valid.Describe()};
      }
    }
    recorder_->Sample("poll", Clock::now() - t);

    // certificate
    t = Clock::now();
    Reply cert = Post(o.value("certificate", ""), "");
    if (cert.status != 200 || cert.body.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
      return FlowError{ErrorType("certificate", cert), cert.Describe()};
    }
    recorder_->Sample("certificate", Clock::now() - t);
    return std::nullopt;
  }

  const AcmeLoadOptions& options_;
  const int index_;
  Recorder* recorder_;
  std::unique_ptr<BenchHttp> http_;
  std::unique_ptr<crypto::PrivateKey> account_key_;
  crypto::jose::JwsAlg alg_ = crypto::jose::JwsAlg::kEs256;
  std::vector<std::string> names_;
  std::vector<std::string> csrs_;  // base64url DER
  std::string new_nonce_, new_account_, new_order_;
  std::string nonce_;
  std::string kid_;
  std::string first_error_;
};

}  // namespace

Result<json> RunAcmeLoad(const AcmeLoadOptions& options) {
  if (options.clients < 1 || options.orders < 1) {
    return InvalidArgument("--clients and --orders must be at least 1");
  }
  if (!options.eab.empty() && options.eab.size() < static_cast<size_t>(options.clients)) {
    return InvalidArgument("one EAB credential per client is needed (" +
                           std::to_string(options.eab.size()) + " for " +
                           std::to_string(options.clients) + " clients)");
  }
  const std::string run_tag =
      std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count() %
                     100000000);
  std::vector<Recorder> recorders(static_cast<size_t>(options.clients));
  std::vector<std::unique_ptr<VirtualClient>> clients;
  for (int c = 0; c < options.clients; ++c) {
    clients.push_back(
        std::make_unique<VirtualClient>(options, c, &recorders[static_cast<size_t>(c)]));
    EG_TRY(clients.back()->Prepare(run_tag));
  }

  // Register in parallel, then start every client's flows at once.
  RunInfo info;
  info.mode = "acme";
  info.target = options.directory_url;
  info.clients = options.clients;
  info.per_client = options.orders;
  info.unit = "flows";
  info.flow_step = "flow";
  return RunMeasured(
      info, recorders, [&](size_t i) { return clients[i]->Register(); },
      [&](size_t i) { clients[i]->RunFlows(); },
      [&](size_t i) { return clients[i]->first_error(); });
}

}  // namespace eg::bench
