// CommitGate: orders series deletions against commits of samples, so that the inbox (the
// durable copy) and the head (the in-memory one) never disagree about deleted samples.
//
// Every committer of samples (the group commit writer; a heartbeat on its storage thread)
// holds the gate shared from before it writes its inbox row until its samples are in the
// head (CommitFanout::publish). A series deletion holds it exclusively while it rewrites
// the inbox rows committed since its first pass, commits and removes the samples from the
// head: a commit is then wholly before the deletion (its inbox row is rewritten and its
// samples leave the head) or wholly after it. A waiting deletion stops new shared holders
// (a turnstile), so a steady stream of commits cannot starve it.
//
// It also remembers the series deleted since start (buried ids). A write whose series ids
// were resolved before its series were deleted may reach the writer afterwards (it was
// queued, or waited for the creation of other series); its samples of buried series are
// dropped at commit, so no sample is stored for a series row that no longer exists. Such a
// write overlapped the deletion, and counts as made before it. Ids are never reused (the
// series table's identity), so a buried id never needs to come back.
//
// Threads: any. turnstile_ and mu_ are the locks above; buried_ is guarded by mu_ (written
// only under the exclusive lock, read under the shared one); any_buried_ lets commits skip
// the lookup while nothing was ever deleted.
#pragma once

#include <atomic>
#include <boost/unordered/unordered_flat_set.hpp>
#include <cstdint>
#include <mutex>
#include <shared_mutex>
#include <vector>

#include "core/committed_batch.hpp"

namespace metricsd {

class CommitGate {
 public:
  // A committer's hold: from before its inbox write until its samples are in the head.
  std::shared_lock<std::shared_mutex> commit() {
    { std::lock_guard pass(turnstile_); }
    return std::shared_lock(mu_);
  }
  // A deletion's hold. Keeps the turnstile while it waits and holds, so no new commit
  // starts meanwhile.
  class Exclusive {
   public:
    explicit Exclusive(CommitGate& g) : turnstile_(g.turnstile_), lock_(g.mu_) {}

   private:
    std::unique_lock<std::mutex> turnstile_;
    std::unique_lock<std::shared_mutex> lock_;
  };
  Exclusive exclusive() { return Exclusive(*this); }

  // Remembers deleted series; the caller holds exclusive().
  void bury(const std::vector<int64_t>& ids);
  // Drops the samples of buried series from `rows` (keeping the order of the rest); the
  // caller holds commit(). Returns how many it dropped.
  size_t drop_buried(SampleRows& rows) const;

 private:
  std::mutex turnstile_;
  std::shared_mutex mu_;
  boost::unordered_flat_set<int64_t> buried_;  // guarded by mu_
  std::atomic<bool> any_buried_{false};
};

}  // namespace metricsd
