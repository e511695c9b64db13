// Serializes an ScmEnrollRequest to JSON and back, so the exact request an enrollment sends to
// SCM is part of its durable intent record (Enrollment::request_json) and can be re-sent or
// looked up after a crash. Pure; thread-safe.
#pragma once

#include <string>

#include "core/ports/scm_api.h"
#include "core/result.h"

namespace eg::issuance {

std::string EncodeRequest(const ScmEnrollRequest& request);
Result<ScmEnrollRequest> DecodeRequest(const std::string& json);

}  // namespace eg::issuance
