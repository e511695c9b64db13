// Internals of the SCM client exposed for tests: building a client over any HttpTransport (a fake
// in unit tests), with an injectable sleep so retries do not wait in real time.
// Thread-safety: as ScmClient (all methods from several threads).
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include "scm/client/http_transport.h"
#include "scm/client/scm_client.h"

namespace eg::scm_client {

Result<std::unique_ptr<ScmApi>> CreateScmClientWithTransport(
    const Options& options, Logger& logger, Clock& clock, std::unique_ptr<HttpTransport> transport,
    std::function<void(std::chrono::milliseconds)> sleep = {});

}  // namespace eg::scm_client
