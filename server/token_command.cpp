// The token command; see token_command.hpp.
#include "server/token_command.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <charconv>
#include <iostream>

#include "core/names.hpp"
#include "core/roles.hpp"
#include "core/time_parse.hpp"
#include "core/token.hpp"
#include "server/storage_setup.hpp"
#include "storage/migrations.hpp"
#include "storage/storage_pool.hpp"
#include "storage/token_store.hpp"

namespace metricsd::server {
namespace {

storage::AuditEntry cli_audit(std::string action) {
  storage::AuditEntry a;
  a.token_name = "command line";
  a.source_addr = "local uid " + std::to_string(getuid());
  a.action = std::move(action);
  return a;
}

std::string time_or_dash(const std::optional<int64_t>& ms) {
  return ms ? format_rfc3339_ms(*ms) : "-";
}

int create(pqxx::connection& c, const CommandLine& cli) {
  auto role = parse_role(cli.token_role);
  if (!role) {
    std::cerr << "metricsd: --role must be one of admin, operator, viewer, agent\n";
    return 2;
  }
  if (cli.token_name.size() > 100) {
    std::cerr << "metricsd: --name must be at most 100 bytes\n";
    return 2;
  }
  if (!cli.token_node.empty() && (*role != Role::kAgent || !valid_node_id(cli.token_node))) {
    std::cerr << "metricsd: --node binds an agent token to a valid node id\n";
    return 2;
  }
  std::string secret = generate_token_secret();
  auto audit = cli_audit("token.create");
  audit.details_json = fmt::format(R"({{"role":"{}"}})", role_name(*role));
  auto row = storage::create_token(c, cli.token_name, *role, cli.token_node,
                                   hash_token_secret(secret), audit);
  std::cerr << fmt::format("created token {} ({}, \"{}\"); it is shown only now:\n", row.id,
                           role_name(row.role), row.name);
  std::cout << secret << "\n";
  return 0;
}

int list(pqxx::connection& c, const CommandLine& cli) {
  std::cout << fmt::format("{:>6}  {:<9} {:<24} {:<16} {:<24} {:<24} {}\n", "ID", "ROLE", "NAME",
                           "NODE", "CREATED", "LAST USED", "REVOKED");
  for (const auto& t : storage::list_tokens(c, cli.token_all))
    std::cout << fmt::format("{:>6}  {:<9} {:<24} {:<16} {:<24} {:<24} {}\n", t.id,
                             role_name(t.role), t.name, t.node_id.empty() ? "-" : t.node_id,
                             format_rfc3339_ms(t.created_ms), time_or_dash(t.last_used_ms),
                             time_or_dash(t.revoked_ms));
  return 0;
}

int revoke(pqxx::connection& c, const CommandLine& cli) {
  const std::string& text = cli.arguments[0];
  int64_t id = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || p != text.data() + text.size() || id <= 0) {
    std::cerr << "metricsd: token id must be a positive integer, not \"" << text << "\"\n";
    return 2;
  }
  if (!storage::revoke_token(c, id, cli_audit("token.revoke"))) {
    std::cerr << "metricsd: no live token with id " << id << "\n";
    return 1;
  }
  std::cerr << "revoked token " << id << "\n";
  return 0;
}

}  // namespace

int token_command(const Settings& s, const CommandLine& cli) {
  Storage st;
  if (int rc = attach_storage(s, st); rc != 0) return rc;
  try {
    pqxx::connection c(storage::StoragePool::with_client_params(
        st.conninfo, static_cast<int>(s.database_connect_timeout_ms)));
    storage::apply_migrations(c, storage::embedded_migrations());
    if (cli.action == "create") return create(c, cli);
    if (cli.action == "list") return list(c, cli);
    return revoke(c, cli);
  } catch (const std::exception& e) {
    spdlog::error("token {}: {}", cli.action, e.what());
    return 1;
  }
}

}  // namespace metricsd::server
