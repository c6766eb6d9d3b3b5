// SQL over what alerting is told (migrations/0006, 0007): rules and receivers (created,
// changed and deleted with their old and new versions in the audit log) and silences
// (created and expired, audited). The state the evaluator keeps (active alerts, history,
// notifications) is in alert_state_store.hpp. Every function runs on a storage thread (or
// the alert service's own thread).
#pragma once

#include <cstdint>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "core/alert_silence.hpp"
#include "storage/token_store.hpp"

namespace metricsd::storage {

// Rules and receivers share one shape: a unique name and a JSON spec.
enum class SpecTable { kRules, kReceivers };

struct SpecRow {
  int64_t id = 0;
  std::string name;
  std::string spec_json;  // without id and name
  bool enabled = true;
  int version = 1;
  int64_t updated_ms = 0;
  std::string updated_by;
  std::string source = "api";  // rules: api or file
};

std::vector<SpecRow> list_spec_rows(pqxx::connection& c, SpecTable table);
std::optional<SpecRow> find_spec_row(pqxx::connection& c, SpecTable table, int64_t id);
// nullopt when the name is taken.
std::optional<SpecRow> create_spec_row(pqxx::connection& c, SpecTable table, const SpecRow& row,
                                       const AuditEntry& audit);
enum class SpecChange { kDone, kNotFound, kNameTaken, kFromFile };
// Refused (kFromFile) for a rule from the rules file unless `row.source` is "file" too.
SpecChange update_spec_row(pqxx::connection& c, SpecTable table, int64_t id, const SpecRow& row,
                           const AuditEntry& audit, SpecRow* out);
SpecChange delete_spec_row(pqxx::connection& c, SpecTable table, int64_t id,
                           const AuditEntry& audit, bool from_file = false);

// Silences, newest first: those not ended (or all, with `ended`), at most `limit`.
std::vector<AlertSilence> list_silences(pqxx::connection& c, bool ended, int limit);
AlertSilence create_silence(pqxx::connection& c, const AlertSilence& s, const AuditEntry& audit);
// Ends it now; false when there is no such silence or it had ended.
bool expire_silence(pqxx::connection& c, int64_t id, const AuditEntry& audit);

}  // namespace metricsd::storage
