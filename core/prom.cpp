// Prometheus text exposition; see prom.hpp.
#include "core/prom.hpp"

#include <fmt/format.h>
#include <cmath>
#include <stdexcept>

namespace metricsd::prom {
namespace {

void atomic_add(std::atomic<double>& a, double v) {
  double cur = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {
  }
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

std::string escape_help(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string label_set(const std::vector<std::string>& names, const Labels& values,
                      const std::string& extra_name = {}, const std::string& extra_value = {}) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    out += out.empty() ? "{" : ",";
    out += names[i] + "=\"" + escape_label_value(values[i]) + "\"";
  }
  if (!extra_name.empty()) {
    out += out.empty() ? "{" : ",";
    out += extra_name + "=\"" + extra_value + "\"";
  }
  if (!out.empty()) out += "}";
  return out;
}

void header(std::string& out, const std::string& name, const std::string& help, const char* type) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escape_help(help), name, type);
}

}  // namespace

void Counter::inc(double v) {
  atomic_add(value_, v);
}
void Gauge::add(double v) {
  atomic_add(value_, v);
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)),
      buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {}

void Histogram::observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && !(v <= bounds_[i]))
    ++i;  // NaN lands in +Inf
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  atomic_add(sum_, v);
}

std::vector<uint64_t> Histogram::cumulative_counts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  uint64_t acc = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    acc += buckets_[i].load(std::memory_order_relaxed);
    out[i] = acc;
  }
  return out;
}

namespace {
// A family registered twice under one name (e.g. by two pools) is the same family.
template <class F>
F* find_family(std::vector<std::unique_ptr<F>>& v, const std::string& name,
               const std::vector<std::string>& label_names) {
  for (auto& f : v)
    if (f->name() == name) {
      if (f->label_names() != label_names)
        throw std::logic_error("metric " + name + " registered with other label names");
      return f.get();
    }
  return nullptr;
}
}  // namespace

Family<Counter>& Registry::counter(const std::string& name, const std::string& help,
                                   std::vector<std::string> label_names) {
  std::lock_guard lock(mu_);
  if (auto* f = find_family(counters_, name, label_names)) return *f;
  counters_.push_back(std::make_unique<Family<Counter>>(name, help, std::move(label_names)));
  return *counters_.back();
}

Family<Gauge>& Registry::gauge(const std::string& name, const std::string& help,
                               std::vector<std::string> label_names) {
  std::lock_guard lock(mu_);
  if (auto* f = find_family(gauges_, name, label_names)) return *f;
  gauges_.push_back(std::make_unique<Family<Gauge>>(name, help, std::move(label_names)));
  return *gauges_.back();
}

Family<Histogram>& Registry::histogram(const std::string& name, const std::string& help,
                                       std::vector<std::string> label_names,
                                       std::vector<double> bounds) {
  std::lock_guard lock(mu_);
  if (auto* f = find_family(histograms_, name, label_names)) return *f;
  histograms_.push_back(
      std::make_unique<Family<Histogram>>(name, help, std::move(label_names), std::move(bounds)));
  return *histograms_.back();
}

void Registry::gauge_fn(const std::string& name, const std::string& help,
                        std::function<double()> fn) {
  std::lock_guard lock(mu_);
  gauge_fns_.push_back({name, help, std::move(fn)});
}

void Registry::counter_fn(const std::string& name, const std::string& help,
                          std::function<double()> fn) {
  std::lock_guard lock(mu_);
  counter_fns_.push_back({name, help, std::move(fn)});
}

std::string Registry::render() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& f : counters_) {
    header(out, f->name(), f->help(), "counter");
    f->for_each([&](const Labels& l, const Counter& c) {
      out += f->name() + label_set(f->label_names(), l) + " " + format_value(c.value()) + "\n";
    });
  }
  for (const auto& f : gauges_) {
    header(out, f->name(), f->help(), "gauge");
    f->for_each([&](const Labels& l, const Gauge& g) {
      out += f->name() + label_set(f->label_names(), l) + " " + format_value(g.value()) + "\n";
    });
  }
  for (const auto& c : counter_fns_) {
    header(out, c.name, c.help, "counter");
    out += c.name + " " + format_value(c.fn()) + "\n";
  }
  for (const auto& g : gauge_fns_) {
    header(out, g.name, g.help, "gauge");
    out += g.name + " " + format_value(g.fn()) + "\n";
  }
  for (const auto& f : histograms_) {
    header(out, f->name(), f->help(), "histogram");
    f->for_each([&](const Labels& l, const Histogram& h) {
      auto counts = h.cumulative_counts();
      for (size_t i = 0; i < counts.size(); ++i) {
        std::string le = i < h.bounds().size() ? format_value(h.bounds()[i]) : "+Inf";
        out += f->name() + "_bucket" + label_set(f->label_names(), l, "le", le) + " " +
               std::to_string(counts[i]) + "\n";
      }
      out +=
          f->name() + "_sum" + label_set(f->label_names(), l) + " " + format_value(h.sum()) + "\n";
      out += f->name() + "_count" + label_set(f->label_names(), l) + " " +
             std::to_string(counts.back()) + "\n";
    });
  }
  return out;
}

std::vector<double> latency_bounds_seconds() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1.0,    2.5,   5.0,  10.0};
}

std::string escape_label_value(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

}  // namespace metricsd::prom
