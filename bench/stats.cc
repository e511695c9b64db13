#include "bench/stats.h"

#include <sys/resource.h>

#include <algorithm>
#include <barrier>
#include <cmath>
#include <cstdio>
#include <thread>

namespace eg::bench {

namespace {

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  // Nearest rank.
  const size_t rank =
      static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

double Round(double v) { return std::round(v * 100) / 100; }

}  // namespace

void Recorder::Sample(const std::string& step, Clock::duration elapsed) {
  samples_[step].push_back(std::chrono::duration<double, std::milli>(elapsed).count());
}

double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

nlohmann::json Summarise(const RunInfo& info, const std::vector<Recorder>& recorders) {
  std::map<std::string, std::vector<double>> samples;
  std::map<std::string, long> errors;
  std::map<std::string, long> counters;
  for (const Recorder& r : recorders) {
    for (const auto& [step, values] : r.samples()) {
      auto& all = samples[step];
      all.insert(all.end(), values.begin(), values.end());
    }
    for (const auto& [type, n] : r.errors()) errors[type] += n;
    for (const auto& [what, n] : r.counters()) counters[what] += n;
  }
  nlohmann::json steps = nlohmann::json::object();
  for (auto& [step, values] : samples) {
    std::sort(values.begin(), values.end());
    steps[step] = {{"count", values.size()},
                   {"p50_ms", Round(Percentile(values, 50))},
                   {"p95_ms", Round(Percentile(values, 95))},
                   {"p99_ms", Round(Percentile(values, 99))},
                   {"max_ms", Round(values.empty() ? 0 : values.back())}};
  }
  const size_t completed = samples.count(info.flow_step) ? samples[info.flow_step].size() : 0;
  long error_total = 0;
  for (const auto& [type, n] : errors) error_total += n;
  const double wall = info.wall_seconds;
  return {{"mode", info.mode},
          {"target", info.target},
          {"clients", info.clients},
          {"per_client", info.per_client},
          {"unit", info.unit},
          {"completed", completed},
          {"wall_s", Round(wall)},
          {"rate_per_s", Round(wall > 0 ? static_cast<double>(completed) / wall : 0)},
          {"flow_step", info.flow_step},
          {"steps", steps},
          {"errors", errors},
          {"error_total", error_total},
          {"counters", counters},
          {"bench_cpu_s", Round(info.cpu_seconds)},
          {"bench_cpu_share", Round(wall > 0 ? info.cpu_seconds / wall : 0)}};
}

std::string FormatReport(const nlohmann::json& s) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof(line), "%s load on %s: %d clients x %d\n",
                s["mode"].get<std::string>().c_str(), s["target"].get<std::string>().c_str(),
                s["clients"].get<int>(), s["per_client"].get<int>());
  out += line;
  std::snprintf(line, sizeof(line), "completed %ld %s in %.2f s: %.2f %s/s\n",
                s["completed"].get<long>(), s["unit"].get<std::string>().c_str(),
                s["wall_s"].get<double>(), s["rate_per_s"].get<double>(),
                s["unit"].get<std::string>().c_str());
  out += line;
  std::snprintf(line, sizeof(line), "%-14s %7s %9s %9s %9s %9s\n", "step", "count", "p50 ms",
                "p95 ms", "p99 ms", "max ms");
  out += line;
  for (const auto& [step, v] : s["steps"].items()) {
    std::snprintf(line, sizeof(line), "%-14s %7ld %9.2f %9.2f %9.2f %9.2f\n", step.c_str(),
                  v["count"].get<long>(), v["p50_ms"].get<double>(), v["p95_ms"].get<double>(),
                  v["p99_ms"].get<double>(), v["max_ms"].get<double>());
    out += line;
  }
  out += "errors: " + std::to_string(s["error_total"].get<long>());
  for (const auto& [type, n] : s["errors"].items()) out += " " + type + "=" + n.dump();
  out += "\n";
  if (!s["counters"].empty()) {
    out += "counters:";
    for (const auto& [what, n] : s["counters"].items()) out += " " + what + "=" + n.dump();
    out += "\n";
  }
  std::snprintf(line, sizeof(line), "bench CPU: %.2f s over %.2f s wall (%.0f%% of one core)\n",
                s["bench_cpu_s"].get<double>(), s["wall_s"].get<double>(),
                100 * s["bench_cpu_share"].get<double>());
  out += line;
  return out;
}

nlohmann::json RunMeasured(RunInfo info, std::vector<Recorder>& recorders,
                           const std::function<bool(size_t)>& before,
                           const std::function<void(size_t)>& measured,
                           const std::function<std::string(size_t)>& first_error) {
  const size_t clients = recorders.size();
  Clock::time_point start;
  double cpu_start = 0;
  std::barrier sync(static_cast<std::ptrdiff_t>(clients), [&]() noexcept {
    start = Clock::now();
    cpu_start = ProcessCpuSeconds();
  });
  std::vector<std::thread> threads;
  for (size_t i = 0; i < clients; ++i) {
    threads.emplace_back([&, i] {
      const bool ready = before(i);
      sync.arrive_and_wait();
      if (ready) measured(i);
    });
  }
  for (auto& t : threads) t.join();
  info.wall_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  info.cpu_seconds = ProcessCpuSeconds() - cpu_start;
  nlohmann::json summary = Summarise(info, recorders);
  nlohmann::json examples = nlohmann::json::array();
  for (size_t i = 0; i < clients && examples.size() < 3; ++i) {
    if (std::string e = first_error(i); !e.empty()) examples.push_back(std::move(e));
  }
  if (!examples.empty()) summary["error_examples"] = examples;
  return summary;
}

}  // namespace eg::bench
