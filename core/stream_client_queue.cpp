// One stream client's bounded outbound queue; see stream_client_queue.hpp.
#include "core/stream_client_queue.hpp"

#include "core/stream_protocol.hpp"

namespace metricsd::stream {

ClientQueue::Offer ClientQueue::push_metrics(Payload p, uint32_t samples, int64_t now_ms) {
  if (too_slow(now_ms)) return Offer::kTooSlow;
  if (queue_.size() >= max_messages_) {
    pending_shed_samples_ += samples;
    ++pending_shed_messages_;
    shed_samples_total_ += samples;
    return Offer::kShed;
  }
  if (pending_shed_messages_ > 0) {
    // Tell the client what it missed before it sees the next samples.
    queue_.push_back({std::make_shared<const std::string>(
                          encode_dropped(pending_shed_samples_, pending_shed_messages_)),
                      now_ms, 0});
    pending_shed_samples_ = pending_shed_messages_ = 0;
  }
  queue_.push_back({std::move(p), now_ms, samples});
  return Offer::kQueued;
}

ClientQueue::Offer ClientQueue::push_control(Payload p, int64_t now_ms) {
  if (queue_.size() >= max_messages_ + kControlSlack) return Offer::kOverflow;
  queue_.push_back({std::move(p), now_ms, 0});
  return Offer::kQueued;
}

std::optional<ClientQueue::Popped> ClientQueue::pop() {
  if (queue_.empty()) {
    if (pending_shed_messages_ == 0) return std::nullopt;
    // Caught up with nothing new to send: report the loss now rather than never.
    auto p = std::make_shared<const std::string>(
        encode_dropped(pending_shed_samples_, pending_shed_messages_));
    pending_shed_samples_ = pending_shed_messages_ = 0;
    return Popped{std::move(p), 0};
  }
  Popped p{std::move(queue_.front().payload), queue_.front().samples};
  queue_.pop_front();
  return p;
}

}  // namespace metricsd::stream
