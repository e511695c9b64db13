// HealthHandler: GET /health. Answers 200 {"status":"ok"} when the store answers a trivial query,
// else 503 {"status":"unavailable"}; the reason goes to the log, never to the client.
//
// Borrows the Store and the Logger (both outlive it). Thread-safe: Handle() may run on several
// threads at once (the Store is thread-safe).
#pragma once

#include "core/log.h"
#include "core/ports/store.h"
#include "protocols/http/message.h"

namespace eg::daemon {

class HealthHandler {
 public:
  HealthHandler(EnrollmentStore& store, Logger& logger) : store_(store), logger_(logger) {}
  http::Response Handle(const http::Request& request) const;

 private:
  EnrollmentStore& store_;
  Logger& logger_;
};

}  // namespace eg::daemon
