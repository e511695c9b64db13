// AsioScheduler: the Scheduler port (core/ports/scheduler.h) on a Boost.Asio io_context run by
// a fixed number of worker threads, with steady timers. Background work (the issuance poller,
// webhook deliveries) runs here, never on a request thread.
//
// Thread-safety: After() may be called from any thread, including from tasks. Shutdown() stops
// the workers after cancelling pending timers; tasks queued after it are dropped.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "core/ports/scheduler.h"

namespace eg::daemon {

class AsioScheduler final : public Scheduler {
 public:
  explicit AsioScheduler(int threads);
  ~AsioScheduler() override;
  AsioScheduler(const AsioScheduler&) = delete;
  AsioScheduler& operator=(const AsioScheduler&) = delete;

  void After(std::chrono::milliseconds delay, std::function<void()> task) override;
  void Shutdown();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace eg::daemon
