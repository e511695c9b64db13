// Recorder and Report: latency samples per step and per flow, errors by type, and the summary the
// bench prints and writes as JSON (completed flows/s, p50/p95/p99, the bench's own CPU time).
//
// Thread-safety: a Recorder belongs to one virtual client (no locking on the hot path); the
// recorders are merged into a Report after every client has finished.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace eg::bench {

using Clock = std::chrono::steady_clock;

class Recorder {
 public:
  void Sample(const std::string& step, Clock::duration elapsed);
  void Error(const std::string& type) { ++errors_[type]; }
  void Count(const std::string& what) { ++counters_[what]; }

  const std::map<std::string, std::vector<double>>& samples() const { return samples_; }
  const std::map<std::string, long>& errors() const { return errors_; }
  const std::map<std::string, long>& counters() const { return counters_; }

 private:
  std::map<std::string, std::vector<double>> samples_;  // milliseconds
  std::map<std::string, long> errors_;
  std::map<std::string, long> counters_;
};

// CPU seconds (user + system) this process has used so far (getrusage(RUSAGE_SELF)).
double ProcessCpuSeconds();

struct RunInfo {
  std::string mode;    // "acme" or "est"
  std::string target;  // directory or base URL
  int clients = 0;
  int per_client = 0;              // orders or requests per client
  std::string unit = "flows";      // what one completed unit is called
  std::string flow_step = "flow";  // the step whose samples are completed units
  double wall_seconds = 0;         // the measured phase only
  double cpu_seconds = 0;          // the bench's CPU during the measured phase
};

// Merges the recorders and summarises: {"mode", "clients", ..., "rate_per_s", "steps": {step:
// {"count","p50_ms","p95_ms","p99_ms","max_ms"}}, "errors": {type: n}, "counters", "bench_cpu"}.
nlohmann::json Summarise(const RunInfo& info, const std::vector<Recorder>& recorders);

// Runs one thread per client: `before(i)` (unmeasured, e.g. account registration), then, once every
// client is there, `measured(i)` for the clients whose `before` returned true. The clock and the
// CPU count start when the last client arrives; returns Summarise(info with wall and CPU seconds
// filled in) plus "error_examples": up to three non-empty `first_error(i)`.
nlohmann::json RunMeasured(RunInfo info, std::vector<Recorder>& recorders,
                           const std::function<bool(size_t)>& before,
                           const std::function<void(size_t)>& measured,
                           const std::function<std::string(size_t)>& first_error);

// The human-readable form of Summarise's output.
std::string FormatReport(const nlohmann::json& summary);

}  // namespace eg::bench
