// EmulatedScm: for in-process protocol tests — the SCM emulator (in process, HTTPS, its state in
// a directory) and the real SCM client logged in to it (password for SSL/client/device, OAuth2
// client credentials for code signing), plus the catalog of the profiles of the types asked
// for. Also the two do-nothing ports such tests pass to the IssuanceService. Not a suite of its
// own: a suite lists emulated_scm.cc in its SOURCES. Used from the test's thread only.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/log.h"
#include "core/ports/notifier.h"
#include "core/ports/scheduler.h"
#include "core/ports/scm_api.h"
#include "core/result.h"
#include "mapping/catalog.h"
#include "scm/emulator/emulator.h"

namespace eg::testing {

class NullNotifier : public Notifier {
 public:
  void Notify(const std::string&, const Notification&) override {}
};

// Never runs anything: the tests drive issuance through Submit/Status only.
class IdleScheduler : public Scheduler {
 public:
  void After(std::chrono::milliseconds, std::function<void()>) override {}
};

struct EmulatedScm {
  std::string state_dir;
  std::unique_ptr<scm_emulator::Emulator> emulator;
  std::unique_ptr<ScmApi> scm;
  mapping::ScmCatalog catalog;  // the profiles of `types`, as SCM lists them

  // Starts the emulator on `state_dir` and logs the client in; lists the profiles of `types`.
  static Result<EmulatedScm> Start(const std::string& state_dir, const std::vector<CertType>& types,
                                   Logger& logger, Clock& clock);
  // Stops the emulator (the client first).
  void Stop();
};

}  // namespace eg::testing
