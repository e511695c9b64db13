#include "protocols/acme/problem.h"

#include "crypto/jose/errors.h"
#include "crypto/jose/jws.h"

namespace eg::acme {

std::string ProblemType(std::string_view name) {
  return "urn:ietf:params:acme:error:" + std::string(name);
}

Problem MakeProblem(std::string_view type, int status, std::string detail) {
  Problem p;
  p.type = std::string(type);
  p.status = status;
  p.detail = std::move(detail);
  return p;
}

nlohmann::json Problem::ToJson() const {
  nlohmann::json j = {{"type", ProblemType(type)}, {"status", status}};
  j["detail"] =
      status >= 500 ? std::string("internal error; the server log has the details") : detail;
  if (!subproblems.empty()) j["subproblems"] = subproblems;
  if (list_algorithms) {
    nlohmann::json algs = nlohmann::json::array();
    for (crypto::jose::JwsAlg a :
         {crypto::jose::JwsAlg::kEs256, crypto::jose::JwsAlg::kEs384, crypto::jose::JwsAlg::kEs512,
          crypto::jose::JwsAlg::kRs256, crypto::jose::JwsAlg::kEdDsa}) {
      algs.push_back(std::string(crypto::jose::JwsAlgName(a)));
    }
    j["algorithms"] = algs;
  }
  return j;
}

http::Response Problem::ToResponse() const {
  http::Response r;
  r.status = status;
  r.headers.Set("Content-Type", "application/problem+json");
  r.body = ToJson().dump();
  for (const auto& [name, value] : headers) r.headers.Set(name, value);
  return r;
}

Problem ProblemFromJoseError(const Error& error) {
  switch (crypto::jose::ProblemOf(error)) {
    case crypto::jose::JoseProblem::kMalformed:
      return Malformed(error.message());
    case crypto::jose::JoseProblem::kBadSignatureAlgorithm: {
      Problem p = MakeProblem("badSignatureAlgorithm", 400, error.message());
      p.list_algorithms = true;
      return p;
    }
    case crypto::jose::JoseProblem::kBadPublicKey:
      return MakeProblem("badPublicKey", 400, error.message());
    case crypto::jose::JoseProblem::kUnauthorized:
      return Unauthorized(error.message());
    case crypto::jose::JoseProblem::kInternal:
      break;
  }
  return ServerInternal();
}

Problem ProblemFromError(const Error& error) {
  switch (error.code()) {
    case ErrorCode::kNotFound:
      return NotFoundProblem(error.message());
    case ErrorCode::kConflict:
      return MakeProblem("malformed", 409,
                         "the object changed while this request was served; try again");
    case ErrorCode::kInvalidArgument:
      return Malformed(error.message());
    case ErrorCode::kResourceExhausted:
      return MakeProblem("rateLimited", 429, error.message());
    default:
      return ServerInternal();
  }
}

}  // namespace eg::acme
