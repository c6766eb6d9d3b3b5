// The tools' command-line parser (see flags.hpp).
#include "tools/common/flags.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace metricsd::tools {
namespace {

constexpr size_t kHelpColumn = 30;  // flag names and placeholders, then the help
constexpr size_t kHelpWidth = 100;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// " in [1, 10]", " in (0, 60]", " >= 1", " > 0", " <= 5", or "".
std::string range_text(const std::optional<double>& lo, bool lo_open,
                       const std::optional<double>& hi) {
  if (lo && hi)
    return " in " + std::string(lo_open ? "(" : "[") + show_number(*lo) + ", " + show_number(*hi) +
           "]";
  if (lo) return std::string(lo_open ? " > " : " >= ") + show_number(*lo);
  if (hi) return " <= " + show_number(*hi);
  return "";
}

bool in_range(double v, const std::optional<double>& lo, bool lo_open,
              const std::optional<double>& hi) {
  if (lo && (lo_open ? !(v > *lo) : !(v >= *lo))) return false;
  return !hi || v <= *hi;
}

[[noreturn]] void refuse(const char* what, const std::string& text, const std::optional<double>& lo,
                         bool lo_open, const std::optional<double>& hi) {
  throw std::invalid_argument(std::string("expected ") + what + range_text(lo, lo_open, hi) +
                              ", got '" + text + "'");
}

template <class T>
bool parse_exact(std::string_view text, T& out) {
  text = trim(text);
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return !text.empty() && ec == std::errc{} && end == text.data() + text.size();
}

// Appends the words to `out` wrapped at kHelpWidth, continuation lines indented to the
// help column; `column` is where the cursor is. A word may hold spaces: it is not broken.
void append_wrapped(std::string& out, size_t column, const std::vector<std::string>& words) {
  bool first = true;
  for (const std::string& w : words) {
    if (!first && column + 1 + w.size() > kHelpWidth) {
      out += "\n" + std::string(kHelpColumn + 1, ' ');
      column = kHelpColumn + 1;
      first = true;
    }
    if (!first) {
      out += ' ';
      ++column;
    }
    out += w;
    column += w.size();
    first = false;
  }
}

}  // namespace

std::string show_number(double v) {
  char buf[64];
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else
    std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

double parse_number(const std::string& text, const std::optional<double>& lo, bool lo_open,
                    const std::optional<double>& hi) {
  double v = 0;
  if (!parse_exact(text, v) || !std::isfinite(v) || !in_range(v, lo, lo_open, hi))
    refuse("a number", text, lo, lo_open, hi);
  return v;
}

int64_t parse_int64(const std::string& text, const std::optional<double>& lo, bool lo_open,
                    const std::optional<double>& hi, int64_t type_min, int64_t type_max) {
  int64_t v = 0;
  if (!parse_exact(text, v) || v < type_min || v > type_max ||
      !in_range(static_cast<double>(v), lo, lo_open, hi))
    refuse("an integer", text, lo, lo_open, hi);
  return v;
}

uint64_t parse_uint64(const std::string& text, const std::optional<double>& lo, bool lo_open,
                      const std::optional<double>& hi, uint64_t type_max) {
  uint64_t v = 0;
  if (!parse_exact(text, v) || v > type_max || !in_range(static_cast<double>(v), lo, lo_open, hi))
    refuse(lo || hi ? "an integer" : "an unsigned integer", text, lo, lo_open, hi);
  return v;
}

bool parse_switch(const std::string& text) {
  if (text.empty() || text == "1" || text == "true" || text == "yes" || text == "on") return true;
  if (text == "0" || text == "false" || text == "no" || text == "off") return false;
  throw std::invalid_argument("expected true or false, got '" + text + "'");
}

FlagSet::Flag& FlagSet::Flag::arg(std::string placeholder) {
  arg_ = std::move(placeholder);
  return *this;
}

FlagSet::Flag& FlagSet::Flag::help(std::string text) {
  help_ = std::move(text);
  return *this;
}

FlagSet::Flag& FlagSet::Flag::env(std::string variable) {
  env_ = std::move(variable);
  return *this;
}

FlagSet::Flag& FlagSet::Flag::min(double lo) {
  lo_ = lo;
  lo_open_ = false;
  return *this;
}

FlagSet::Flag& FlagSet::Flag::above(double lo) {
  lo_ = lo;
  lo_open_ = true;
  return *this;
}

FlagSet::Flag& FlagSet::Flag::max(double hi) {
  hi_ = hi;
  return *this;
}

FlagSet::Flag& FlagSet::Flag::default_text(std::string text) {
  default_ = std::move(text);
  return *this;
}

FlagSet::Flag& FlagSet::declare(std::string name, Flag::Kind kind) {
  if (find(name)) throw std::logic_error("flag --" + name + " declared twice");
  auto f = std::make_unique<Flag>();
  f->name_ = std::move(name);
  f->kind_ = kind;
  f->arg_ = kind == Flag::Kind::kSwitch ? "" : "VALUE";
  flags_.push_back(std::move(f));
  return *flags_.back();
}

FlagSet::Flag& FlagSet::add(std::string name, std::function<void(const std::string&)> set) {
  Flag& f = declare(std::move(name), Flag::Kind::kValue);
  f.set_ = [set = std::move(set)](const Flag&, const std::string& v) { set(v); };
  return f;
}

FlagSet::Flag& FlagSet::add_list(std::string name, std::function<void(const std::string&)> add,
                                 std::function<void()> clear) {
  Flag& f = declare(std::move(name), Flag::Kind::kList);
  f.set_ = [add = std::move(add)](const Flag&, const std::string& v) { add(v); };
  f.clear_ = std::move(clear);
  return f;
}

FlagSet::Flag& FlagSet::add_list(std::string name, std::vector<std::string>* target,
                                 std::function<void(const std::string&)> check) {
  return add_list(
      std::move(name),
      [target, check = std::move(check)](const std::string& v) {
        if (check) check(v);
        target->push_back(v);
      },
      [target] { target->clear(); });
}

FlagSet::Flag* FlagSet::find(const std::string& name) {
  for (const auto& f : flags_)
    if (f->name_ == name) return f.get();
  return nullptr;
}

void FlagSet::set(Flag& f, const std::string& value, const std::string& source) {
  try {
    f.set_(f, value);
  } catch (const FlagError&) {
    throw;
  } catch (const std::invalid_argument& e) {
    throw FlagError("--" + f.name_ + source + ": " + e.what());
  }
}

void FlagSet::parse_env(const std::function<const char*(const char*)>& getenv) {
  for (auto& f : flags_) {
    if (f->env_.empty()) continue;
    const char* v = getenv(f->env_.c_str());
    if (!v || !*v) continue;
    const std::string source = " (from " + f->env_ + ")";
    if (f->kind_ != Flag::Kind::kList) {
      set(*f, v, source);
      continue;
    }
    const std::string all = v;
    for (size_t start = 0; start <= all.size();) {
      size_t comma = all.find(',', start);
      if (comma == std::string::npos) comma = all.size();
      if (comma > start) set(*f, all.substr(start, comma - start), source);
      start = comma + 1;
    }
  }
}

void FlagSet::parse(int argc, char** argv) {
  parse(std::vector<std::string>(argv + (argc > 0 ? 1 : 0), argv + argc));
}

void FlagSet::parse(const std::vector<std::string>& args) {
  for (auto& f : flags_)
    f->cleared_by_command_line_ = false;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    if (a == "-h" && find("help")) a = "--help";
    if (a.rfind("--", 0) != 0 || a.size() == 2)
      throw FlagError("unexpected argument '" + a + "' (see --help)");
    std::string name = a.substr(2), value;
    bool has_value = false;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
      has_value = true;
    }
    Flag* f = find(name);
    if (!f) throw FlagError("unknown flag --" + name + " (see --help)");
    if (f->kind_ != Flag::Kind::kSwitch && !has_value) {
      if (i + 1 >= args.size()) throw FlagError("--" + name + " needs a value");
      value = args[++i];
    }
    if (f->kind_ == Flag::Kind::kList && !f->cleared_by_command_line_) {
      if (f->clear_) f->clear_();
      f->cleared_by_command_line_ = true;
    }
    set(*f, value, "");
  }
}

std::string FlagSet::help() const {
  std::string out;
  for (const auto& f : flags_) {
    std::string left = "  --" + f->name_;
    if (f->kind_ != Flag::Kind::kSwitch) left += " " + f->arg_;
    out += left;
    size_t column = left.size();
    if (column >= kHelpColumn) {
      out += "\n";
      column = 0;
    }
    out += std::string(kHelpColumn + 1 - column, ' ');
    std::vector<std::string> words;
    for (size_t p = 0; p < f->help_.size();) {
      size_t space = f->help_.find(' ', p);
      if (space == std::string::npos) space = f->help_.size();
      if (space > p) words.push_back(f->help_.substr(p, space - p));
      p = space + 1;
    }
    if (f->kind_ != Flag::Kind::kSwitch && !f->default_.empty())
      words.push_back("(default " + f->default_ + ")");
    if (!f->env_.empty()) words.push_back("[env " + f->env_ + "]");
    append_wrapped(out, kHelpColumn + 1, words);
    out += "\n";
  }
  return out;
}

}  // namespace metricsd::tools
