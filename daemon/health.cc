#include "daemon/health.h"

namespace eg::daemon {

http::Response HealthHandler::Handle(const http::Request& /*request*/) const {
  EnrollmentFilter probe;
  probe.limit = 1;
  Result<std::vector<Enrollment>> answer = store_.ListEnrollments(probe);
  if (!answer.ok()) {
    logger_.Error("health: store check failed", {{"error", answer.error().ToString()}});
    http::Response r = http::Response::Json(503, R"({"status":"unavailable"})");
    r.headers.Set("Cache-Control", "no-store");
    return r;
  }
  http::Response r = http::Response::Json(200, R"({"status":"ok"})");
  r.headers.Set("Cache-Control", "no-store");
  return r;
}

}  // namespace eg::daemon
