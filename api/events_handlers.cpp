// The events listing; see events_handlers.hpp.
#include "api/events_handlers.hpp"

#include "api/query_params.hpp"
#include "core/clock.hpp"
#include "core/names.hpp"
#include "core/time_parse.hpp"
#include "storage/node_store.hpp"

namespace metricsd::api {
namespace {

using nlohmann::json;

}  // namespace

boost::asio::awaitable<Response> EventsHandlers::list(Request& req) {
  storage::EventFilter f;
  int64_t now = wall_ms();
  for (const auto& [k, v] : req.query) {
    if (k == "node") {
      if (!valid_node_id(v)) throw bad_param("node", "not a valid node id");
      f.node = v;
    } else if (k == "type") {
      if (v.empty() || v.size() > 64 || !valid_text(v))
        throw bad_param("type", "must be 1 to 64 bytes of UTF-8 without NUL");
      f.type = v;
    } else if (!page_param(req, k, v, now, f) && !credential_param(k)) {
      throw bad_param(k, "unknown parameter (expected node, type, from, to, limit, cursor)");
    }
  }
  check_page_range(f.from_ms, f.to_ms);
  if (!db_.ready()) throw ApiError::unavailable(db_.not_ready_reason(), 2);
  auto rows =
      co_await db_.pool().run([&](pqxx::connection& c) { return storage::list_events(c, f); });
  json events = json::array();
  for (const auto& e : rows)
    events.push_back({{"id", e.id},
                      {"ts", format_rfc3339_ms(e.ts_ms)},
                      {"node", e.node.empty() ? json(nullptr) : json(e.node)},
                      {"type", e.type},
                      {"data", json::parse(e.data_json, nullptr, false)}});
  json next = rows.size() == static_cast<size_t>(f.limit) ? json(std::to_string(rows.back().id))
                                                          : json(nullptr);
  co_return json_response(200, {{"events", events}, {"next_cursor", next}});
}

}  // namespace metricsd::api
