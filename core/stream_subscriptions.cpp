// The stream's subscription index; see stream_subscriptions.hpp.
#include "core/stream_subscriptions.hpp"

#include <algorithm>

namespace metricsd::stream {

bool SubscriptionIndex::node_passes(const std::vector<std::string>& filter, std::string_view node) {
  if (filter.empty()) return true;
  return std::binary_search(filter.begin(), filter.end(), node,
                            [](std::string_view a, std::string_view b) { return a < b; });
}

void SubscriptionIndex::leave_group(Client& c, ClientId id) {
  if (!c.group) return;
  Group* g = c.group;
  g->clients.erase(id);
  c.group = nullptr;
  if (!g->clients.empty()) return;
  auto unindex = [g](auto& index, const std::vector<std::string>& names) {
    for (const auto& n : names) {
      auto it = index.find(n);
      if (it == index.end()) continue;
      std::erase(it->second, g);
      if (it->second.empty()) index.erase(it);
    }
  };
  unindex(by_category_, g->categories);
  unindex(by_metric_, g->metrics);
  groups_.erase(c.group_key);
}

void SubscriptionIndex::remove(ClientId client) {
  auto it = clients_.find(client);
  if (it == clients_.end()) return;
  leave_group(it->second, client);
  clients_.erase(it);
}

void SubscriptionIndex::set(ClientId client, const std::vector<Channel>& channels,
                            const std::vector<std::string>& nodes) {
  remove(client);
  if (channels.empty()) return;
  Client c;
  c.node_filter = nodes;
  std::vector<std::string> categories, metrics;
  for (const auto& ch : channels) {
    switch (ch.kind) {
      case Channel::Kind::kCategory:
        categories.push_back(ch.name);
        break;
      case Channel::Kind::kMetric:
        metrics.push_back(ch.name);
        break;
      case Channel::Kind::kNodes:
        c.nodes = true;
        break;
      case Channel::Kind::kEvents:
        c.events = true;
        break;
      case Channel::Kind::kAlerts:
        c.alerts = true;
        break;
    }
  }
  std::sort(categories.begin(), categories.end());
  categories.erase(std::unique(categories.begin(), categories.end()), categories.end());
  // A metric inside a subscribed category adds nothing (and must not be sent twice).
  std::erase_if(metrics, [&](const std::string& m) {
    return std::binary_search(categories.begin(), categories.end(), m.substr(0, m.find('.')));
  });
  std::sort(metrics.begin(), metrics.end());
  metrics.erase(std::unique(metrics.begin(), metrics.end()), metrics.end());
  if (!categories.empty() || !metrics.empty()) {
    std::string key;
    for (const auto& n : categories)
      key += "c" + n + '\0';
    for (const auto& n : metrics)
      key += "m" + n + '\0';
    key += '|';
    for (const auto& n : nodes)
      key += n + '\0';
    auto& slot = groups_[key];
    if (!slot) {
      slot = std::make_unique<Group>();
      slot->categories = categories;
      slot->metrics = metrics;
      slot->nodes = nodes;
      for (const auto& n : categories)
        by_category_[n].push_back(slot.get());
      for (const auto& n : metrics)
        by_metric_[n].push_back(slot.get());
    }
    slot->clients.emplace(client, true);
    c.group = slot.get();
    c.group_key = std::move(key);
  }
  clients_.emplace(client, std::move(c));
}

std::vector<Delivery> SubscriptionIndex::plan(std::span<const SeriesInfo* const> infos) {
  std::vector<Group*> touched;
  auto hit = [&](const std::vector<Group*>& groups, uint32_t i, std::string_view node) {
    for (Group* g : groups) {
      if (!node_passes(g->nodes, node)) continue;
      if (g->hits.empty()) touched.push_back(g);
      g->hits.push_back(i);
    }
  };
  for (uint32_t i = 0; i < infos.size(); ++i) {
    const SeriesInfo* s = infos[i];
    if (!s) continue;
    if (auto it = by_category_.find(s->category); it != by_category_.end())
      hit(it->second, i, s->node);
    if (auto it = by_metric_.find(s->metric); it != by_metric_.end()) hit(it->second, i, s->node);
  }
  std::vector<Delivery> out;
  out.reserve(touched.size());
  for (Group* g : touched) {
    Delivery d;
    d.clients.reserve(g->clients.size());
    for (const auto& [id, unused] : g->clients)
      d.clients.push_back(id);
    // A group's categories and metrics never overlap, so each sample was hit once and in
    // order.
    d.samples = std::move(g->hits);
    g->hits.clear();
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<ClientId> SubscriptionIndex::node_watchers(std::string_view node) const {
  std::vector<ClientId> out;
  for (const auto& [id, c] : clients_)
    if (c.nodes && node_passes(c.node_filter, node)) out.push_back(id);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<ClientId> SubscriptionIndex::alert_watchers(std::string_view node) const {
  std::vector<ClientId> out;
  for (const auto& [id, c] : clients_)
    if (c.alerts && node_passes(c.node_filter, node)) out.push_back(id);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<ClientId> SubscriptionIndex::event_watchers(std::string_view node) const {
  std::vector<ClientId> out;
  for (const auto& [id, c] : clients_)
    if (c.events && (node.empty() || node_passes(c.node_filter, node))) out.push_back(id);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<ClientId> SubscriptionIndex::metric_clients() const {
  std::vector<ClientId> out;
  for (const auto& [id, c] : clients_)
    if (c.group) out.push_back(id);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace metricsd::stream
