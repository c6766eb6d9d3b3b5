// Prometheus metrics: counters, gauges and histograms with labels, and their text
// exposition (format 0.0.4). Updates are lock-free atomics; creating a new label
// combination takes the family's mutex once. Families live as long as the registry.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace metricsd::prom {

class Counter {
 public:
  void inc(double v = 1.0);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double v);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double v);
  const std::vector<double>& bounds() const { return bounds_; }
  // Cumulative count per bound, then +Inf; sum.
  std::vector<uint64_t> cumulative_counts() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;                        // constant after construction
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1 (last = +Inf)
  std::atomic<double> sum_{0.0};
};

using Labels = std::vector<std::string>;  // values, in the family's label-name order

// A metric name with a fixed set of label names; one child per label-value combination.
template <class Metric>
class Family {
 public:
  template <class... Args>
  Family(std::string name, std::string help, std::vector<std::string> label_names, Args... args)
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        make_([args...] { return std::make_unique<Metric>(args...); }) {}

  Metric& with(const Labels& values) {
    std::lock_guard lock(mu_);
    auto& slot = children_[values];
    if (!slot) slot = make_();
    return *slot;
  }
  Metric& get() { return with({}); }

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  template <class Fn>
  void for_each(Fn&& fn) const {
    std::lock_guard lock(mu_);
    for (const auto& [labels, m] : children_)
      fn(labels, *m);
  }

 private:
  const std::string name_, help_;
  const std::vector<std::string> label_names_;
  const std::function<std::unique_ptr<Metric>()> make_;
  mutable std::mutex mu_;  // guards children_ (the map, not the metrics, which are atomic)
  std::map<Labels, std::unique_ptr<Metric>> children_;
};

class Registry {
 public:
  Family<Counter>& counter(const std::string& name, const std::string& help,
                           std::vector<std::string> label_names = {});
  Family<Gauge>& gauge(const std::string& name, const std::string& help,
                       std::vector<std::string> label_names = {});
  Family<Histogram>& histogram(const std::string& name, const std::string& help,
                               std::vector<std::string> label_names, std::vector<double> bounds);
  // A gauge read at scrape time.
  void gauge_fn(const std::string& name, const std::string& help, std::function<double()> fn);
  // A counter kept elsewhere (it must only grow), read at scrape time.
  void counter_fn(const std::string& name, const std::string& help, std::function<double()> fn);

  std::string render() const;

 private:
  mutable std::mutex mu_;  // guards the vectors below (registration and render)
  std::vector<std::unique_ptr<Family<Counter>>> counters_;
  std::vector<std::unique_ptr<Family<Gauge>>> gauges_;
  std::vector<std::unique_ptr<Family<Histogram>>> histograms_;
  struct ValueFn {
    std::string name, help;
    std::function<double()> fn;
  };
  std::vector<ValueFn> gauge_fns_;
  std::vector<ValueFn> counter_fns_;
};

// Histogram bounds for latencies in seconds, 100 us .. 10 s.
std::vector<double> latency_bounds_seconds();

// Escapes a label value for the exposition format.
std::string escape_label_value(const std::string& v);

}  // namespace metricsd::prom
