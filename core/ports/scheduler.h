// Scheduler: runs work later, off the caller's thread. The daemon implements it on Boost.Asio
// (an io_context with worker threads and steady timers); tests use a manual one. Modules that may
// not include Asio (issuance/) take a Scheduler& instead.
//
// Implementations are safe to call from several threads; tasks may run concurrently with each
// other. After Shutdown() returns, no task runs and new ones are dropped.
#pragma once

#include <chrono>
#include <functional>

namespace eg {

class Scheduler {
 public:
  virtual ~Scheduler() = default;
  // Runs `task` once, no sooner than `delay` from now.
  virtual void After(std::chrono::milliseconds delay, std::function<void()> task) = 0;
  void Post(std::function<void()> task) { After(std::chrono::milliseconds(0), std::move(task)); }
};

}  // namespace eg
