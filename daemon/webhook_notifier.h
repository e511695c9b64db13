// WebhookNotifier: the Notifier port (core/ports/notifier.h) as a durable webhook sender.
//
// Notify() never touches the network: it renders the JSON document
//   {"event","account","enrollment_id","scm_id","serial","common_name","detail","at"}
// ("at" RFC 3339 UTC), stores it in the NotificationOutbox and asks the Scheduler for a delivery
// pass. So a restart (or kill -9) loses nothing, and any daemon on a shared store may deliver it.
//
// A pass claims due messages ONE AT A TIME, each under a lease of 2 × request_timeout, and POSTs
// it with Boost.Beast (http:// or https://; https verifies the peer against the system trust
// store plus options.ca_bundle_pem, with SNI and a host-name or IP check). One claim per message,
// not a batch, because delivery is sequential: a batch's lease would have to cover every exchange
// in it, while a single message's lease only has to cover its own attempt (and other daemons take
// the rest meanwhile). Headers: Content-Type: application/json, User-Agent: enrollgate/<version>,
// X-Enrollgate-Event: <event>. Every step (resolve + connect + TLS handshake, write, read) ends
// by the attempt's deadline, request_timeout after it began.
//
// Outcomes of one attempt:
//   - 2xx: delivered (MarkDelivered).
//   - anything else (no connection, timeout, TLS failure, 1xx/3xx/4xx/5xx): Reschedule with
//     exponential backoff (initial_backoff, doubling, capped at max_backoff) and the error text.
//     4xx is retried too, 400/401/403/404/410 included: from a webhook receiver such an answer is
//     most often a temporary deployment or configuration mistake (a route not yet deployed, a
//     rotated token), and max_age bounds what retrying costs. Redirects are not followed.
//   - a failed attempt on a message older than max_age: Discard, and an error is logged with the
//     event, account and url. Retries are clamped so the last one happens at max_age.
// Delivery is at least once: an answer after the deadline, or a crash between the POST and
// recording it, repeats the POST. Receivers should de-duplicate on (enrollment_id, event).
//
// Thread-safety: Notify() may be called from any thread. At most one pass runs at a time, so a
// hanging receiver holds one scheduler worker, not all of them. Start() runs a pass at once (for
// what a previous run or another daemon left) and then one every `tick`; passes also run after
// Notify() and when a retry falls due. Stop() stops new passes and waits for one in flight to
// finish its current attempt (bounded by request_timeout); it is safe to call twice, and must
// not be called from a scheduler task. After Stop(), Notify() still queues (durably). The
// outbox, clock and logger must outlive Stop(); the scheduler must outlive this object.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "core/clock.h"
#include "core/log.h"
#include "core/ports/notifier.h"
#include "core/ports/scheduler.h"
#include "core/ports/store.h"

namespace eg::daemon {

struct WebhookOptions {
  // Bounds one attempt: connect (with TLS handshake), write and read all end by this.
  std::chrono::milliseconds request_timeout{10000};
  std::chrono::milliseconds initial_backoff{1000};
  std::chrono::milliseconds max_backoff{std::chrono::hours(1)};
  // A message this old is dropped after its next failed attempt.
  std::chrono::milliseconds max_age{std::chrono::hours(24)};
  // How often a pass looks for due messages without being asked.
  std::chrono::milliseconds tick{5000};
  // Extra trust anchors (PEM) for https receivers, added to the system trust store.
  std::string ca_bundle_pem;
};

class WebhookNotifier final : public Notifier {
 public:
  // A ca_bundle_pem that does not parse is logged as an error; https deliveries then fail (and
  // are retried) with that error, http ones are unaffected.
  WebhookNotifier(NotificationOutbox& outbox, Scheduler& scheduler, Clock& clock, Logger& logger,
                  WebhookOptions options);
  ~WebhookNotifier() override;  // Stop()s
  WebhookNotifier(const WebhookNotifier&) = delete;
  WebhookNotifier& operator=(const WebhookNotifier&) = delete;

  void Notify(const std::string& webhook_url, const Notification& notification) override;
  void Start();
  void Stop();

 private:
  class Core;  // shared with the scheduled tasks, which outlive this object harmlessly
  std::shared_ptr<Core> core_;
};

}  // namespace eg::daemon
