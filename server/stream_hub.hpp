// StreamHub: the fan-out of the live stream. Committed samples (from the group-commit
// writer's hook), node status changes and events come in; each flush (at most one per
// stream.flush_ms, at once when the last was longer ago) resolves the samples' series,
// asks the SubscriptionIndex which groups of clients want which samples, serializes one
// `metrics` message per group and offers it to each client's bounded queue (StreamSink).
//
// Threads: publish() runs on the committing thread (CommitFanout) and only copies the batch into a
// bounded queue (stream.max_pending_samples; beyond, the batch is counted and not streamed);
// subscribe()/detach()/publish_node()/publish_event() come from io threads and only queue
// a command or a notice. The hub's own thread does everything else and never waits on a
// socket: a sink's deliver only queues and wakes its session. Beast-free.
#pragma once

#include <atomic>
#include <boost/unordered/unordered_flat_map.hpp>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/committed_batch.hpp"
#include "core/head.hpp"
#include "core/live_settings.hpp"
#include "core/settings.hpp"
#include "core/stream_client_queue.hpp"
#include "core/stream_subscriptions.hpp"
#include "server/stream_metrics.hpp"
#include "storage/series_registry.hpp"

namespace metricsd::server {

// A stream client as the hub sees it (the WebSocket session). Every call may come from
// any thread and must not block beyond a short lock.
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  virtual void deliver_metrics(stream::Payload message, uint32_t samples) = 0;
  virtual void deliver_control(stream::Payload message) = 0;
  // Starts a close with this WebSocket code; `reason` labels the closes counter.
  virtual void close(uint16_t code, const char* reason) = 0;
};

class StreamHub {
 public:
  StreamHub(const Settings& settings, const LiveSettings& live,
            const storage::SeriesRegistry& registry, const Head& head, StreamMetrics& metrics);
  ~StreamHub();
  StreamHub(const StreamHub&) = delete;
  StreamHub& operator=(const StreamHub&) = delete;

  void start();
  void stop();  // joins the hub thread

  // Connection slots (stream.max_clients): reserve before the upgrade, release at the end.
  bool try_reserve();
  void release();
  size_t clients() const { return reserved_.load(); }

  // A session after its handshake; detach() when it ends.
  stream::ClientId attach(std::weak_ptr<StreamSink> sink);
  void detach(stream::ClientId id);
  // Replaces the client's subscription, then sends `ack` (if set) and, with
  // send_snapshot, a snapshot of the `snapshot` channels (those just subscribed) tagged
  // with request_id; the hub sends both so they come before any later metrics message.
  // `pending` (may be null) is decremented once the hub applied it. False when the hub's
  // command queue is full (the client is told to retry).
  struct Update {
    stream::ClientId client = 0;
    std::vector<stream::Channel> channels;
    std::vector<std::string> nodes;
    stream::Payload ack;
    bool send_snapshot = false;
    std::vector<stream::Channel> snapshot;
    nlohmann::json request_id;
    std::shared_ptr<std::atomic<int>> pending;
  };
  bool update(Update u);

  // The CommitFanout's consumer, on the committing thread: copies the batch into the
  // bounded queue and returns the samples it dropped (the queue was full).
  size_t publish(const CommittedBatch& batch);
  // A node's status changed (the fan-out's node consumer, any thread): a `node` message
  // and an `event` message of its event_type. False when the notice queue was full.
  bool publish_node(const NodeStatusChange& change);
  // An event a node reported (the fan-out's event consumer, any thread): an `event`
  // message to the `events` subscribers of its node. False when the notice queue was full.
  bool publish_event(const NodeEvent& event);
  // An alert changed (the alert service's thread): `message` goes to the `alerts`
  // subscribers whose node filter passes `node`. False when the notice queue was full.
  bool publish_alert(const std::string& node, std::string message);
  // Where the `alerts` channel's snapshot comes from (a JSON array's text). Before start().
  void set_alerts_source(std::function<std::string()> fn) { alerts_source_ = std::move(fn); }

  // Closes every client with `code` (1001 on shutdown); from then on closing() is true,
  // so a session that attaches later closes itself.
  void close_all(uint16_t code, const char* reason);
  bool closing() const { return closing_.load(); }

 private:
  struct Batch {
    std::vector<int64_t> series_ids, ts_ms;
    std::vector<double> values;
    int64_t committed_ms = 0;
  };
  struct Notice {  // a node status change, a node's own event, or an alert's message
    enum class Kind { kStatus, kEvent, kAlert } kind = Kind::kStatus;
    std::string node, from, to, event_type;
    int64_t last_seen_ms = 0, ts_ms = 0;
    std::string data_json;  // kEvent: the event's data
    std::string alert;      // kAlert: the message for the `alerts` channel
  };
  struct Command {
    enum class Kind { kUpdate, kDetach } kind;
    Update update;
  };

  void thread_main();
  void apply(Command& c);
  void send_snapshot(const Update& u, StreamSink& sink);
  void flush(std::vector<Batch>& batches);
  void deliver_notice(const Notice& n);
  bool queue_notice(Notice n);  // false (counted) when the notice queue is full
  const stream::SeriesInfo* info(int64_t series_id);
  std::shared_ptr<StreamSink> sink(stream::ClientId id);

  const Settings& settings_;
  const LiveSettings& live_;  // stream.flush_ms
  const storage::SeriesRegistry& registry_;
  const Head& head_;
  StreamMetrics& metrics_;
  std::function<std::string()> alerts_source_;
  std::atomic<size_t> reserved_{0};
  std::atomic<bool> any_metrics_{false};  // mirrors index_.any_metrics() for publish()
  std::atomic<bool> closing_{false};

  mutable std::mutex sinks_mu_;  // guards sinks_, next_id_ (attach/detach/close_all)
  std::unordered_map<stream::ClientId, std::weak_ptr<StreamSink>> sinks_;
  stream::ClientId next_id_ = 0;

  // guards batches_, pending_samples_, commands_, notices_, stopping_, dropping_,
  // dropped_unreported_
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Batch> batches_;
  int64_t pending_samples_ = 0;
  std::deque<Command> commands_;
  std::deque<Notice> notices_;
  bool stopping_ = false;
  bool dropping_ = false;            // the hub queue overflowed (log once per episode)
  uint64_t dropped_unreported_ = 0;  // samples lost since the last `dropped` to everyone

  // Owned by the hub thread.
  stream::SubscriptionIndex index_;
  boost::unordered_flat_map<int64_t, std::unique_ptr<stream::SeriesInfo>> infos_;
  std::thread thread_;
};

}  // namespace metricsd::server
