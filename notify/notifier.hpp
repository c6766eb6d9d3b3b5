// Notifier: delivers alert notifications to their receivers. Each receiver has its own
// thread and bounded queue, so a receiver that hangs or refuses delays only itself: never
// ingest, evaluation or another receiver. A delivery is tried up to the receiver's
// max_attempts, backing off 1 s, 2 s, 4 s ... (at most 60 s, or the receiver's Retry-After
// up to 5 min) with ±50 % jitter; a permanent refusal (a 4xx other than 408/429, a 5xx SMTP
// reply, a certificate not trusted) ends it at once. Each outcome goes to `on_outcome`,
// which records it (the notification stays `queued` in the database until then, so one
// still queued when the daemon stops is delivered after the restart).
//
// Threads: set_receivers()/enqueue()/stop() from the alert service's thread; on_outcome
// is called on the receivers' threads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/prom.hpp"
#include "notify/alert_message.hpp"
#include "notify/alert_receiver.hpp"
#include "notify/smtp_client.hpp"

namespace metricsd::notify {

struct NotifyOutcome {
  int64_t id = 0;     // the notification
  std::string state;  // sent or failed
  int attempts = 0;
  std::string detail;  // the last answer or error, one line
};

struct EmailSettings {
  SmtpServer server;
  std::string from;
};

class Notifier {
 public:
  Notifier(std::optional<EmailSettings> email, std::function<void(NotifyOutcome)> on_outcome,
           prom::Registry& metrics, size_t max_queue_per_receiver = 1000);
  ~Notifier();  // stops

  // Receivers (with ids) to deliver to from now on. One whose definition changed keeps its
  // queue; one removed fails what it had queued ("receiver removed").
  void set_receivers(std::vector<AlertReceiver> receivers);
  // False when there is no such receiver or its queue is full (the caller records that).
  bool enqueue(int64_t receiver_id, AlertNotification n);
  void stop();  // ends every receiver's thread (a delivery in flight ends at its timeout)

 private:
  struct Worker;
  void run(Worker& w);
  NotifyOutcome deliver(Worker& w, const AlertNotification& n);

  const std::optional<EmailSettings> email_;
  const std::function<void(NotifyOutcome)> on_outcome_;
  const size_t max_queue_;
  std::map<int64_t, std::shared_ptr<Worker>> workers_;  // by receiver id
  std::vector<std::shared_ptr<Worker>> retired_;        // stopping; joined by stop()
  std::atomic<size_t> queued_{0};

  prom::Family<prom::Counter>& outcomes_;
  prom::Counter& retries_;
  prom::Family<prom::Histogram>& latency_;
};

}  // namespace metricsd::notify
