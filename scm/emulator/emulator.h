// Emulator: an in-process SCM REST API server (see ../shared/reference/scm-rest-api.md), used as
// the embedded default SCM and by every test. All state (CA, profiles, enrollments) lives in its
// state directory (SQLite + PEM files), so the `enrollgate-scm-emulator approve` command and a
// restarted emulator see the same enrollments a running one does.
//
// Thread-safety: Start/Stop from one thread; SetSwitches and the accessors from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "core/log.h"
#include "core/result.h"

namespace eg::scm_emulator {

// Faults and timing, for tests. All off by default.
struct Switches {
  std::chrono::milliseconds latency{0};    // added to every answer
  double fail_rate = 0.0;                  // share of requests answered 500/503 before processing
  double drop_rate = 0.0;                  // share of connections dropped (some after processing)
  int64_t outage_until_unix = 0;           // every request answers 503 until this time
  std::chrono::seconds issuance_delay{0};  // Applied -> Issued after this long
  int pending_code = 0;                    // SSL collect-before-ready code: 0, -1400, -109, -183
  int issued_collect_pending_polls = 0;    // "Issued" but collect still pending for N polls
  // A CA gone wrong, for the gateway's checks of what SCM returns: "" (no fault), "key" (a key
  // other than the CSR's), "name" (one extra DNS name), "term" (twice the requested term).
  std::string misissue;
};

struct Options {
  std::string listen_host = "127.0.0.1";
  uint16_t port = 0;        // 0: any free port; read it back with port()
  std::string state_dir;    // created if missing
  std::string config_file;  // optional JSON (profiles, orgs, domains, users); defaults otherwise
  Switches switches;
};

class Emulator {
 public:
  static Result<std::unique_ptr<Emulator>> Start(const Options& options, Logger& logger);
  virtual ~Emulator() = default;

  virtual uint16_t port() const = 0;
  // "https://127.0.0.1:PORT" (no path): SCM's `/api/...` and `/private/api/...` live under it.
  virtual std::string base_url() const = 0;
  // The emulator CA's certificate: PEM text, and the file it was written to (STATE/ca.pem).
  virtual std::string ca_pem() const = 0;
  virtual std::string ca_pem_path() const = 0;
  virtual void SetSwitches(const Switches& switches) = 0;
  virtual void Stop() = 0;
};

// Administrator acts on the state directory, usable while an emulator runs on it or not.
Result<void> ApproveInState(const std::string& state_dir, const std::string& id,
                            const std::string& message);
Result<void> DeclineInState(const std::string& state_dir, const std::string& id,
                            const std::string& message);

}  // namespace eg::scm_emulator
