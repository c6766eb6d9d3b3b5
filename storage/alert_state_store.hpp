// SQL over the alerts' state (migrations/0006, 0007): the alerts pending or firing now,
// their history, and the notifications each transition caused with their outcomes (an
// outbox: written with the transition, delivered from there). Every function runs on a
// storage thread or the alert service's own thread.
#pragma once

#include <cstdint>
#include <map>
#include <pqxx/pqxx>
#include <string>
#include <utility>
#include <vector>

#include "core/alert_eval.hpp"

namespace metricsd::storage {

// A notification a transition causes, for one receiver.
struct PlannedNotification {
  size_t transition = 0;  // index into the transitions recorded with it
  int64_t receiver_id = 0;
  std::string receiver_name;
  std::string state;  // queued, silenced or cooldown
  std::string detail;
};

// Records the transitions (alerts_active follows, the history grows) and their
// notifications in one transaction. Returns the notifications' ids, parallel to `planned`.
std::vector<int64_t> record_alert_transitions(pqxx::connection& c,
                                              const std::vector<AlertTransition>& t,
                                              const std::vector<PlannedNotification>& planned = {});

struct ActiveAlertRow {
  ActiveAlert a;
  std::string acknowledged_by;  // "" when not acknowledged
  int64_t acknowledged_ms = 0;
  bool notified = false;  // a receiver was told of this episode
};
std::vector<ActiveAlertRow> load_active_alerts(pqxx::connection& c);

// Marks an active alert acknowledged and records it in the history. False when the rule
// has no alert on that node (it resolved meanwhile).
bool acknowledge_alert(pqxx::connection& c, int64_t rule_id, const std::string& node,
                       const std::string& by, const std::string& comment);

struct NotificationRow {
  std::string receiver;
  std::string state;  // queued, sent, failed, silenced, cooldown, dropped
  int attempts = 0;
  std::string detail;
  int64_t done_ms = 0;  // 0 while queued
};
struct AlertHistoryRow {
  int64_t id = 0;
  AlertTransition t;
  std::string detail;  // acknowledged: by whom, and the comment
  std::vector<NotificationRow> notifications;
};
// Newest first; rule 0, node "" and before 0 filter nothing.
std::vector<AlertHistoryRow> list_alert_history(pqxx::connection& c, int64_t rule,
                                                const std::string& node, int64_t before, int limit);

// Notifications still queued (the daemon stopped before they were delivered), oldest
// first, at most `limit`, with their receivers.
std::vector<std::pair<int64_t, AlertNotification>> load_queued_notifications(pqxx::connection& c,
                                                                             int limit);
// The outcome of delivering one.
void record_notification_outcome(pqxx::connection& c, int64_t id, const std::string& state,
                                 int attempts, const std::string& detail);
// When each (rule, node) last had a firing notification queued, since `since_ms`.
std::map<std::pair<int64_t, std::string>, int64_t> load_recent_firings(pqxx::connection& c,
                                                                       int64_t since_ms);

}  // namespace metricsd::storage
