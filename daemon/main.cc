// enrollgated: flags, configuration, signals, and the App's lifetime. See --help (flags.cc).
//
// Signals are blocked in every thread before the first thread starts; this thread then waits for
// them with sigwait(). Start-up runs on its own thread so that a SIGTERM during a slow start (SCM
// issuing the server certificate) is acted upon at once; it reports back with SIGUSR1.
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "core/clock.h"
#include "core/log.h"
#include "daemon/app.h"
#include "daemon/flags.h"
#include "daemon/stop_signal.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitStartFailed = 1;
constexpr int kExitUsage = 2;

std::optional<std::string> GetEnvironment(std::string_view name) {
  const char* value = std::getenv(std::string(name).c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

// The configuration as the daemon uses it: the file, then the environment (ENROLLGATE_PORT).
eg::Result<eg::config::Config> LoadDaemonConfig(const std::string& path) {
  eg::Result<eg::config::Config> config = eg::config::LoadConfigFile(path);
  if (!config.ok()) return config.error().WithContext(path);
  EG_TRY(eg::config::ApplyEnvironment(*config, GetEnvironment));
  return config;
}

int Run(const std::string& config_path, const eg::config::Config& config) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGUSR1);  // start-up thread -> this thread: "start-up finished"
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  eg::Logger logger(config.log_level, stderr);
  eg::SystemClock clock;
  eg::daemon::StopSignal stop;
  for (const std::string& warning : config.warnings) logger.Warn("config", {{"warning", warning}});

  // Start-up on its own thread (it inherits the blocked mask).
  std::atomic<bool> start_done{false};
  eg::Result<std::unique_ptr<eg::daemon::App>> started =
      eg::Error(eg::ErrorCode::kInternal, "not started");
  pthread_t main_thread = pthread_self();
  std::thread starter([&] {
    started = eg::daemon::App::Start(config, logger, clock, stop);
    start_done = true;
    pthread_kill(main_thread, SIGUSR1);
  });

  std::unique_ptr<eg::daemon::App> app;
  bool stopping = false;
  while (true) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGUSR1) {
      if (!start_done || app != nullptr) continue;  // not ours, or already handled
      starter.join();
      if (!started.ok()) {
        if (stopping) return kExitOk;  // stopped during start-up
        logger.Error("start-up failed", {{"error", started.error().ToString()}});
        std::fprintf(stderr, "enrollgated: start-up failed: %s\n",
                     started.error().message().c_str());
        return kExitStartFailed;
      }
      app = std::move(started).value();
      if (stopping) break;
      std::printf("%s listening on %s\n", eg::daemon::VersionText().c_str(), app->url().c_str());
      std::printf("CA bundle: %s\n", app->ca_bundle_path().c_str());
      std::fflush(stdout);
      logger.Info("enrollgated started",
                  {{"url", app->url()}, {"ca_bundle", app->ca_bundle_path()}});
    } else if (sig == SIGTERM || sig == SIGINT) {
      logger.Info("stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
      stopping = true;
      stop.Stop();
      if (app != nullptr) break;  // else wait for start-up to notice and finish
    } else if (sig == SIGHUP) {
      if (app == nullptr) {
        logger.Warn("SIGHUP during start-up ignored: nothing to reload yet");
        continue;
      }
      logger.Info("reloading", {{"config", config_path}});
      eg::Result<eg::config::Config> next = LoadDaemonConfig(config_path);
      if (!next.ok()) {
        logger.Error("reload refused; the running configuration stays in force",
                     {{"error", next.error().ToString()}});
        continue;
      }
      (void)app->Reload(*next);  // logs its own outcome
    }
  }
  bool drained = app->Shutdown();
  app.reset();
  logger.Info("enrollgated stopped", {{"drained", drained}});
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  eg::Result<eg::daemon::Flags> flags = eg::daemon::ParseFlags(args);
  if (!flags.ok()) {
    std::fprintf(stderr, "enrollgated: %s\n", flags.error().message().c_str());
    return kExitUsage;
  }
  if (flags->help) {
    std::fputs(eg::daemon::HelpText().c_str(), stdout);
    return kExitOk;
  }
  if (flags->version) {
    std::printf("%s\n", eg::daemon::VersionText().c_str());
    return kExitOk;
  }
  eg::Result<std::string> path = eg::daemon::ResolveConfigPath(*flags, GetEnvironment);
  if (!path.ok()) {
    std::fprintf(stderr, "enrollgated: %s\n", path.error().message().c_str());
    return kExitUsage;
  }
  eg::Result<eg::config::Config> config = LoadDaemonConfig(*path);
  if (!config.ok()) {
    std::fprintf(stderr, "enrollgated: %s\n", config.error().message().c_str());
    return kExitUsage;
  }
  if (flags->check_config) {
    for (const std::string& warning : config->warnings) {
      std::fprintf(stderr, "enrollgated: warning: %s\n", warning.c_str());
    }
    std::printf("config OK\n");
    return kExitOk;
  }
  return Run(*path, *config);
}
