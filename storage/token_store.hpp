// SQL over API tokens and the audit log. Only the SHA-256 of a token's secret is stored;
// audit rows never hold secrets. Every function runs on a storage thread.
#pragma once

#include <cstdint>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <utility>
#include <vector>

#include "core/roles.hpp"

namespace metricsd::storage {

struct TokenRow {
  int64_t id = 0;
  std::string name;
  Role role = Role::kViewer;
  std::string node_id;  // agent tokens may be bound to one node; empty: any
  int64_t created_ms = 0;
  std::optional<int64_t> last_used_ms;
  std::optional<int64_t> revoked_ms;
};

// Who did something, for the audit log.
struct AuditEntry {
  std::optional<int64_t> token_id;
  std::string token_name;
  std::string source_addr;
  std::string action;  // "token.create", "token.revoke", "command.create", "auth.denied", ...
  std::string target;
  std::string outcome = "ok";
  std::string details_json = "{}";
};

struct AuditRow {
  int64_t id = 0;
  int64_t ts_ms = 0;
  AuditEntry entry;
};

struct AuditFilter {
  std::optional<std::string> action;      // exact, or a prefix ending in '.' ("token.")
  std::optional<std::string> token_name;  // exact
  std::optional<std::string> outcome;
  std::optional<int64_t> from_ms, to_ms;  // [from, to)
  std::optional<int64_t> before_id;       // the cursor
  int limit = 100;
};

// The pg_notify channel that tells every daemon a token was revoked (payload: its id).
inline constexpr const char* kTokenChannel = "metricsd_tokens";
// The one that tells every daemon a token was created (payload: its id); a channel of its
// own, so that a daemon of an earlier version (which empties its whole token cache on a
// payload it cannot read on kTokenChannel) never sees it.
inline constexpr const char* kTokenCreatedChannel = "metricsd_tokens_created";

// A live token's id and the hash of its secret.
struct LiveTokenHash {
  int64_t id = 0;
  std::string secret_hash;
};

// Inserts the token and its audit row in one transaction, and notifies every daemon
// (kTokenCreatedChannel).
TokenRow create_token(pqxx::connection& c, const std::string& name, Role role,
                      const std::string& node_id, const std::string& secret_hash,
                      const AuditEntry& audit);
// The live (not revoked) token with this secret hash.
std::optional<TokenRow> find_token(pqxx::connection& c, const std::string& secret_hash);
std::vector<TokenRow> list_tokens(pqxx::connection& c, bool include_revoked);
// The live tokens' hashes, by id, at most `limit` of them.
std::vector<LiveTokenHash> list_live_token_hashes(pqxx::connection& c, int64_t limit);
// The secret hash of the live token `id`; nullopt when it is revoked or gone.
std::optional<std::string> live_token_hash(pqxx::connection& c, int64_t id);
// Marks it revoked, notifies every daemon, audits; nullopt when no such live token.
std::optional<TokenRow> revoke_token(pqxx::connection& c, int64_t id, const AuditEntry& audit);
// Records when tokens were last used (id, unix ms); later times only.
void touch_tokens(pqxx::connection& c, const std::vector<std::pair<int64_t, int64_t>>& used);

void insert_audit(pqxx::transaction_base& tx, const AuditEntry& e);
void insert_audit(pqxx::connection& c, const AuditEntry& e);
std::vector<AuditRow> list_audit(pqxx::connection& c, const AuditFilter& f);

}  // namespace metricsd::storage
