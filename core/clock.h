// Clock: the injectable source of wall-clock time. Everything that compares against "now"
// (renewal windows, expiry, nonce lifetime, issuance delay) takes a Clock& in its constructor so
// tests can move time. SystemClock and FakeClock are safe to call from several threads.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace eg {

using TimePoint = std::chrono::system_clock::time_point;
using Seconds = std::chrono::seconds;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::system_clock::now(); }
};

// A clock that only moves when told. Starts at `start`.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start) : now_(start.time_since_epoch().count()) {}
  TimePoint Now() const override { return TimePoint(TimePoint::duration(now_.load())); }
  void Advance(std::chrono::nanoseconds d) {
    now_ += std::chrono::duration_cast<TimePoint::duration>(d).count();
  }
  void Set(TimePoint t) { now_ = t.time_since_epoch().count(); }

 private:
  std::atomic<TimePoint::duration::rep> now_;
};

// Seconds since the Unix epoch, and back.
int64_t ToUnixSeconds(TimePoint t);
TimePoint FromUnixSeconds(int64_t s);
// RFC 3339 UTC with a 'Z' ("2026-11-25T06:30:00Z"), as ACME and logs use.
std::string FormatRfc3339(TimePoint t);

}  // namespace eg
