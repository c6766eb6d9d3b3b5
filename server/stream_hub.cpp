// The stream hub; see stream_hub.hpp.
#include "server/stream_hub.hpp"

#include <spdlog/spdlog.h>
#include <algorithm>
#include <chrono>

#include "core/clock.hpp"
#include "core/stream_encode.hpp"
#include "core/thread_name.hpp"
#include "core/time_parse.hpp"

namespace metricsd::server {

using stream::Channel;
using stream::ClientId;
using stream::Payload;
using Clock = std::chrono::steady_clock;

namespace {
constexpr size_t kMaxCommands = 10'000;
constexpr size_t kMaxNotices = 10'000;
}  // namespace

StreamHub::StreamHub(const Settings& settings, const LiveSettings& live,
                     const storage::SeriesRegistry& registry, const Head& head,
                     StreamMetrics& metrics)
    : settings_(settings), live_(live), registry_(registry), head_(head), metrics_(metrics) {}

StreamHub::~StreamHub() {
  stop();
}

void StreamHub::start() {
  thread_ = std::thread([this] {
    name_this_thread("md-stream-hub");
    thread_main();
  });
}

void StreamHub::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool StreamHub::try_reserve() {
  size_t n = reserved_.fetch_add(1) + 1;
  if (n <= static_cast<size_t>(settings_.stream_max_clients)) return true;
  reserved_.fetch_sub(1);
  return false;
}

void StreamHub::release() {
  reserved_.fetch_sub(1);
}

ClientId StreamHub::attach(std::weak_ptr<StreamSink> sink) {
  std::lock_guard lock(sinks_mu_);
  ClientId id = ++next_id_;
  sinks_.emplace(id, std::move(sink));
  return id;
}

void StreamHub::detach(ClientId id) {
  {
    std::lock_guard lock(sinks_mu_);
    sinks_.erase(id);
  }
  {
    // Unbounded on purpose: a detach is what frees the other queues' places.
    std::lock_guard lock(mu_);
    commands_.push_back({Command::Kind::kDetach, Update{.client = id}});
  }
  cv_.notify_one();
}

bool StreamHub::update(Update u) {
  {
    std::lock_guard lock(mu_);
    if (commands_.size() >= kMaxCommands) return false;
    commands_.push_back({Command::Kind::kUpdate, std::move(u)});
  }
  cv_.notify_one();
  return true;
}

size_t StreamHub::publish(const CommittedBatch& committed) {
  if (!any_metrics_.load()) return 0;  // nobody streams metrics: copy nothing
  Batch b;
  b.committed_ms = wall_ms();
  size_t n = committed.samples();
  b.series_ids.reserve(n);
  b.ts_ms.reserve(n);
  b.values.reserve(n);
  for (const auto* part : committed.parts) {
    b.series_ids.insert(b.series_ids.end(), part->series_ids.begin(), part->series_ids.end());
    b.ts_ms.insert(b.ts_ms.end(), part->ts_ms.begin(), part->ts_ms.end());
    b.values.insert(b.values.end(), part->values.begin(), part->values.end());
  }
  {
    std::lock_guard lock(mu_);
    if (pending_samples_ + static_cast<int64_t>(n) > settings_.stream_max_pending_samples) {
      metrics_.hub_dropped.inc(static_cast<double>(n));
      dropped_unreported_ += n;
      if (!dropping_)
        spdlog::warn(
            "stream hub: {} committed samples not streamed, the hub is {} behind "
            "(stream.max_pending_samples)",
            n, pending_samples_);
      dropping_ = true;
      return n;
    }
    if (dropping_) spdlog::info("stream hub: streaming every committed sample again");
    dropping_ = false;
    pending_samples_ += static_cast<int64_t>(n);
    batches_.push_back(std::move(b));
  }
  cv_.notify_one();
  return 0;
}

bool StreamHub::queue_notice(Notice n) {
  {
    std::lock_guard lock(mu_);
    if (notices_.size() >= kMaxNotices) {
      // The hub thread is far behind; the counter has every one after the first.
      if (metrics_.hub_dropped_notices.value() == 0 && n.kind != Notice::Kind::kAlert)
        spdlog::warn("stream hub: {} of {} not streamed, {} waiting",
                     n.kind == Notice::Kind::kEvent ? "event" : "node change", n.node,
                     notices_.size());
      metrics_.hub_dropped_notices.inc();
      return false;
    }
    notices_.push_back(std::move(n));
  }
  cv_.notify_one();
  return true;
}

bool StreamHub::publish_node(const NodeStatusChange& c) {
  Notice n;
  n.node = c.node;
  n.from = c.from;
  n.to = c.to;
  n.event_type = c.event_type;
  n.last_seen_ms = c.last_seen_ms;
  n.ts_ms = wall_ms();
  return queue_notice(std::move(n));
}

bool StreamHub::publish_event(const NodeEvent& e) {
  Notice n;
  n.kind = Notice::Kind::kEvent;
  n.node = e.node;
  n.event_type = e.type;
  n.ts_ms = e.ts_ms;
  n.data_json = e.data_json;
  return queue_notice(std::move(n));
}

bool StreamHub::publish_alert(const std::string& node, std::string message) {
  Notice n;
  n.kind = Notice::Kind::kAlert;
  n.node = node;
  n.alert = std::move(message);
  return queue_notice(std::move(n));
}

void StreamHub::close_all(uint16_t code, const char* reason) {
  closing_ = true;
  std::vector<std::shared_ptr<StreamSink>> all;
  {
    std::lock_guard lock(sinks_mu_);
    for (auto& [id, weak] : sinks_)
      if (auto s = weak.lock()) all.push_back(std::move(s));
  }
  for (auto& s : all)
    s->close(code, reason);
}

std::shared_ptr<StreamSink> StreamHub::sink(ClientId id) {
  std::lock_guard lock(sinks_mu_);
  auto it = sinks_.find(id);
  return it == sinks_.end() ? nullptr : it->second.lock();
}

const stream::SeriesInfo* StreamHub::info(int64_t series_id) {
  auto it = infos_.find(series_id);
  if (it != infos_.end()) return it->second.get();
  auto key = registry_.key(series_id);
  if (!key) return nullptr;  // cannot happen for committed samples; skip rather than guess
  auto& slot = infos_[series_id];
  slot = std::make_unique<stream::SeriesInfo>(stream::make_series_info(*key));
  return slot.get();
}

void StreamHub::thread_main() {
  Clock::time_point next_flush = Clock::now();
  for (;;) {
    std::vector<Command> commands;
    std::vector<Notice> notices;
    std::vector<Batch> batches;
    uint64_t lost = 0;
    {
      std::unique_lock lock(mu_);
      // Leading edge: samples go out at once unless a flush happened less than
      // flush_ms ago; then they wait for that interval to end.
      auto ready = [&] {
        return stopping_ || !commands_.empty() || !notices_.empty() ||
               (!batches_.empty() && Clock::now() >= next_flush);
      };
      while (!ready()) {
        if (batches_.empty())
          cv_.wait(lock);
        else
          cv_.wait_until(lock, next_flush);
      }
      if (stopping_) return;
      commands.assign(std::make_move_iterator(commands_.begin()),
                      std::make_move_iterator(commands_.end()));
      commands_.clear();
      notices.assign(std::make_move_iterator(notices_.begin()),
                     std::make_move_iterator(notices_.end()));
      notices_.clear();
      if (!batches_.empty() && Clock::now() >= next_flush) {
        batches.assign(std::make_move_iterator(batches_.begin()),
                       std::make_move_iterator(batches_.end()));
        batches_.clear();
        pending_samples_ = 0;
        lost = std::exchange(dropped_unreported_, 0);
      }
    }
    for (auto& c : commands)
      apply(c);
    any_metrics_ = index_.any_metrics();
    for (const auto& n : notices)
      deliver_notice(n);
    if (lost > 0) {
      // Samples the hub itself could not take: every metrics client may have missed them.
      auto msg = std::make_shared<const std::string>(stream::encode_dropped(lost, 0));
      for (ClientId id : index_.metric_clients())
        if (auto s = sink(id)) s->deliver_control(msg);
    }
    if (!batches.empty()) {
      auto started = Clock::now();
      flush(batches);
      metrics_.flush_seconds.observe(std::chrono::duration<double>(Clock::now() - started).count());
      next_flush = started + std::chrono::milliseconds(live_.stream_flush_ms());  // may change
    }
  }
}

void StreamHub::apply(Command& c) {
  if (c.kind == Command::Kind::kDetach) {
    index_.remove(c.update.client);
    return;
  }
  Update& u = c.update;
  index_.set(u.client, u.channels, u.nodes);
  // Published before the snapshot is read: a sample the snapshot misses is not yet in
  // the head, so it is committed later and reaches this client through publish().
  any_metrics_ = index_.any_metrics();
  if (auto s = sink(u.client)) {
    if (u.ack) s->deliver_control(u.ack);
    if (u.send_snapshot) send_snapshot(u, *s);
  }
  if (u.pending) u.pending->fetch_sub(1);
}

void StreamHub::send_snapshot(const Update& u, StreamSink& sink) {
  size_t limit = static_cast<size_t>(settings_.stream_max_snapshot_series);
  std::string out;
  stream::begin_snapshot(out, u.request_id);
  size_t count = 0;
  bool truncated = false;
  auto node_ok = [&](const std::string& node) {
    return u.nodes.empty() || std::binary_search(u.nodes.begin(), u.nodes.end(), node);
  };
  for (const Channel& ch : u.snapshot) {
    if (ch.kind != Channel::Kind::kCategory && ch.kind != Channel::Kind::kMetric) continue;
    // A metric whose category is also in this snapshot is already covered.
    if (ch.kind == Channel::Kind::kMetric &&
        std::find(u.snapshot.begin(), u.snapshot.end(),
                  Channel{Channel::Kind::kCategory, ch.name.substr(0, ch.name.find('.'))}) !=
            u.snapshot.end())
      continue;
    SeriesFilter f;
    if (ch.kind == Channel::Kind::kCategory)
      f.category = ch.name;
    else
      f.metric = ch.name;
    int64_t after = 0;
    while (!truncated) {
      auto page = registry_.select(f, after, 1000);
      if (page.empty()) break;
      after = page.back().first;
      for (const auto& [id, key] : page) {
        if (!node_ok(key.node)) continue;
        auto latest = head_.latest(id);
        if (!latest) continue;
        if (count == limit) {
          truncated = true;
          break;
        }
        stream::append_sample(out, *info(id), latest->ts_ms, latest->value, count == 0);
        ++count;
      }
    }
  }
  stream::end_samples(out, truncated);
  metrics_.snapshots.inc();
  sink.deliver_control(std::make_shared<const std::string>(std::move(out)));
  bool alerts = std::find(u.snapshot.begin(), u.snapshot.end(),
                          Channel{Channel::Kind::kAlerts, ""}) != u.snapshot.end();
  if (alerts && alerts_source_) {
    auto all = nlohmann::json::parse(alerts_source_(), nullptr, false);
    nlohmann::json shown = nlohmann::json::array();
    if (all.is_array())
      for (auto& a : all)
        if (node_ok(a.value("node", ""))) shown.push_back(std::move(a));
    sink.deliver_control(
        std::make_shared<const std::string>(stream::encode_alerts(u.request_id, shown)));
  }
}

void StreamHub::flush(std::vector<Batch>& batches) {
  size_t n = 0;
  for (const auto& b : batches)
    n += b.values.size();
  std::vector<const stream::SeriesInfo*> infos;
  std::vector<uint32_t> batch_of;  // sample -> its batch, for the commit time
  infos.reserve(n);
  batch_of.reserve(n);
  for (uint32_t bi = 0; bi < batches.size(); ++bi) {
    for (int64_t id : batches[bi].series_ids) {
      infos.push_back(info(id));
      batch_of.push_back(bi);
    }
  }
  // Offsets of each batch's first sample, to index its arrays.
  std::vector<size_t> first(batches.size() + 1, 0);
  for (size_t bi = 0; bi < batches.size(); ++bi)
    first[bi + 1] = first[bi] + batches[bi].values.size();
  std::string out;
  for (auto& d : index_.plan(infos)) {
    out.clear();
    out.reserve(d.samples.size() * 96 + 64);
    stream::begin_metrics(out, batches[batch_of[d.samples.front()]].committed_ms);
    bool first_sample = true;
    for (uint32_t i : d.samples) {
      const Batch& b = batches[batch_of[i]];
      size_t k = i - first[batch_of[i]];
      stream::append_sample(out, *infos[i], b.ts_ms[k], b.values[k], first_sample);
      first_sample = false;
    }
    stream::end_samples(out);
    auto msg = std::make_shared<const std::string>(std::move(out));
    out = std::string();
    auto count = static_cast<uint32_t>(d.samples.size());
    for (ClientId id : d.clients)
      if (auto s = sink(id)) s->deliver_metrics(msg, count);
  }
}

void StreamHub::deliver_notice(const Notice& n) {
  if (n.kind == Notice::Kind::kEvent) {
    auto events = index_.event_watchers(n.node);
    if (events.empty()) return;
    // The decoder made data_json from a JSON object, so it parses.
    auto msg = std::make_shared<const std::string>(stream::encode_event(
        n.node, n.event_type, nlohmann::json::parse(n.data_json, nullptr, false), n.ts_ms));
    for (ClientId id : events)
      if (auto s = sink(id)) s->deliver_control(msg);
    return;
  }
  if (n.kind == Notice::Kind::kAlert) {
    auto watchers = index_.alert_watchers(n.node);
    if (watchers.empty()) return;
    auto msg = std::make_shared<const std::string>(n.alert);
    for (ClientId id : watchers)
      if (auto s = sink(id)) s->deliver_control(msg);
    return;
  }
  auto nodes = index_.node_watchers(n.node);
  if (!nodes.empty()) {
    auto msg =
        std::make_shared<const std::string>(stream::encode_node(n.node, n.to, n.last_seen_ms));
    for (ClientId id : nodes)
      if (auto s = sink(id)) s->deliver_control(msg);
  }
  auto events = index_.event_watchers(n.node);
  if (!events.empty()) {
    nlohmann::json data = {
        {"from", n.from}, {"to", n.to}, {"last_seen", format_rfc3339_ms(n.last_seen_ms)}};
    auto msg = std::make_shared<const std::string>(
        stream::encode_event(n.node, n.event_type, data, n.ts_ms));
    for (ClientId id : events)
      if (auto s = sink(id)) s->deliver_control(msg);
  }
}

}  // namespace metricsd::server
