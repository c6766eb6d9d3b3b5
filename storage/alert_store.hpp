// SQL over alerts (migrations/0006): rules (created, changed and deleted with their old and
// new versions in the audit log), the alerts pending or firing now, and their history.
// Every function runs on a storage thread (or the alert service's own thread).
#pragma once

#include <cstdint>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "core/alert_eval.hpp"
#include "storage/token_store.hpp"

namespace metricsd::storage {

struct AlertRuleRow {
  int64_t id = 0;
  std::string name;
  std::string spec_json;  // the rule's JSON, without id
  bool enabled = true;
  int version = 1;
  int64_t updated_ms = 0;
  std::string updated_by;
};

std::vector<AlertRuleRow> list_alert_rules(pqxx::connection& c);
// nullopt when the name is taken.
std::optional<AlertRuleRow> create_alert_rule(pqxx::connection& c, const std::string& name,
                                              const std::string& spec_json, bool enabled,
                                              const AuditEntry& audit);
enum class RuleChange { kDone, kNotFound, kNameTaken };
RuleChange update_alert_rule(pqxx::connection& c, int64_t id, const std::string& name,
                             const std::string& spec_json, bool enabled, const AuditEntry& audit,
                             AlertRuleRow* out);
// False when there is no such rule. Its active alerts go with it; its history stays.
bool delete_alert_rule(pqxx::connection& c, int64_t id, const AuditEntry& audit);

// Transitions as the evaluator reported them: alerts_active follows, history grows.
void record_alert_transitions(pqxx::connection& c, const std::vector<AlertTransition>& t);
std::vector<ActiveAlert> load_active_alerts(pqxx::connection& c);

struct AlertHistoryRow {
  int64_t id = 0;
  AlertTransition t;
};
// Newest first; rule 0, node "" and before 0 filter nothing.
std::vector<AlertHistoryRow> list_alert_history(pqxx::connection& c, int64_t rule,
                                                const std::string& node, int64_t before, int limit);

}  // namespace metricsd::storage
