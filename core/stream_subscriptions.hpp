// SubscriptionIndex: which stream clients want which samples. Clients with the same
// metric channels and node filter form one group, so a flush serializes one message per
// group, not per client; groups are indexed by category and by metric, so a sample costs
// two hash lookups however many clients there are. Node-status and event watchers are
// kept apart (they are few and rare). Pure logic, no I/O; one thread (the hub's) owns it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/stream_encode.hpp"
#include "core/stream_protocol.hpp"

namespace metricsd::stream {

using ClientId = uint64_t;

// What one flush sends to some clients: the indexes (ascending) of the batch's samples.
struct Delivery {
  std::vector<ClientId> clients;
  std::vector<uint32_t> samples;
};

class SubscriptionIndex {
 public:
  // Replaces the client's subscription; `nodes` sorted, empty = every node. No channels
  // at all removes the client.
  void set(ClientId client, const std::vector<Channel>& channels,
           const std::vector<std::string>& nodes);
  void remove(ClientId client);

  // infos[i] describes sample i of a batch; one Delivery per group that wants any of it.
  std::vector<Delivery> plan(std::span<const SeriesInfo* const> infos);

  // Clients subscribed to `nodes` / `events` whose node filter lets `node` through.
  std::vector<ClientId> node_watchers(std::string_view node) const;
  std::vector<ClientId> event_watchers(std::string_view node) const;
  // Clients subscribed to `alerts` whose node filter lets `node` through.
  std::vector<ClientId> alert_watchers(std::string_view node) const;
  // Clients with any metrics channel.
  std::vector<ClientId> metric_clients() const;

  bool any_metrics() const { return !groups_.empty(); }
  size_t clients() const { return clients_.size(); }
  size_t groups() const { return groups_.size(); }

 private:
  struct Group {
    std::vector<std::string> categories;
    std::vector<std::string> metrics;  // those not covered by one of the categories
    std::vector<std::string> nodes;    // sorted; empty = every node
    std::map<ClientId, bool> clients;  // ordered so deliveries are deterministic
    std::vector<uint32_t> hits;        // scratch during plan()
  };
  struct Client {
    Group* group = nullptr;  // null when no metrics channel
    std::string group_key;
    bool nodes = false, events = false, alerts = false;
    std::vector<std::string> node_filter;
  };
  void leave_group(Client& c, ClientId id);
  static bool node_passes(const std::vector<std::string>& filter, std::string_view node);

  std::unordered_map<ClientId, Client> clients_;
  std::unordered_map<std::string, std::unique_ptr<Group>> groups_;  // by group key
  std::unordered_map<std::string, std::vector<Group*>> by_category_, by_metric_;
};

}  // namespace metricsd::stream
