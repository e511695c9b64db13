// Notifier: tells an enrollment account's administrator what happened — the "notify your
// administrator" and "email when ready" of SCM's self-enrollment forms — by a JSON POST to the
// account's webhook. Delivery is asynchronous and retried by the implementation; Notify never
// blocks on the network. Safe to call from several threads.
#pragma once

#include <string>

#include "core/clock.h"

namespace eg {

struct Notification {
  std::string event;  // "pending_approval" | "issued" | "failed" | "revoked"
  std::string account;
  std::string enrollment_id;
  std::string scm_id;
  std::string serial;  // once issued
  std::string common_name;
  std::string detail;  // a sentence for a person
  TimePoint at{};
};

class Notifier {
 public:
  virtual ~Notifier() = default;
  virtual void Notify(const std::string& webhook_url, const Notification& notification) = 0;
};

}  // namespace eg
