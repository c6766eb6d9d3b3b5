// The command-line parser of metricsd-agent, metricsd-sim and the bench tools. A tool
// declares its flags once (name, type through the variable it sets, placeholder, help,
// range, optional environment variable) and gets from that one table: parsing of
// `--name value` and `--name=value`, `-h` for `--help`, the environment fallback, and the
// flag list of its --help with each default. Every refusal is a FlagError whose message
// starts with the flag's name (`--nodes: expected an integer in [1, 100000], got '0'`).
//
//   AgentOptions o;
//   FlagSet flags;
//   flags.add("nodes", &o.nodes).arg("N").help("simulated nodes").range(1, 100000);
//   flags.parse(args);
//
// A FlagSet holds pointers into the options it fills: declare it next to them and use it
// while they live. Not thread-safe; parsing happens once, at start-up.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace metricsd::tools {

// A bad command line: unknown flag, missing or malformed value, value out of range, or a
// combination the tool refuses. Tools exit 2 on it.
struct FlagError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

class FlagSet {
 public:
  class Flag {
   public:
    // The placeholder of the value in --help ("N", "URL"); switches have none.
    Flag& arg(std::string placeholder);
    Flag& help(std::string text);
    // Environment variable read by FlagSet::parse_env; the command line wins.
    Flag& env(std::string variable);
    // Numbers: the accepted range (inclusive), or above(lo) for lo excluded.
    Flag& range(double lo, double hi) { return min(lo).max(hi); }
    Flag& min(double lo);
    Flag& above(double lo);
    Flag& max(double hi);
    // What --help shows as the default instead of the variable's value at declaration
    // ("" shows none).
    Flag& default_text(std::string text);

   private:
    friend class FlagSet;
    enum class Kind { kSwitch, kValue, kList };
    std::string name_, arg_, help_, env_, default_;
    Kind kind_ = Kind::kValue;
    std::optional<double> lo_, hi_;
    bool lo_open_ = false;
    // Sets from text; throws std::invalid_argument with what is wrong (without the name).
    std::function<void(const Flag&, const std::string&)> set_;
    std::function<void()> clear_;  // lists: drops what the environment gave
    bool cleared_by_command_line_ = false;
  };

  FlagSet() = default;
  FlagSet(const FlagSet&) = delete;
  FlagSet& operator=(const FlagSet&) = delete;

  // A flag that sets *target: std::string, bool (a switch: `--x`, `--x=true|false`),
  // double, or an integer type (range-checked against the type too). The value of *target
  // now is the default shown by --help.
  template <class T>
  Flag& add(std::string name, T* target);

  // A flag with a value handled by `set`, which throws std::invalid_argument saying what
  // is wrong with it (the message gets the flag's name in front).
  Flag& add(std::string name, std::function<void(const std::string&)> set);

  // A repeatable flag: each occurrence is passed to `add`. Its environment variable holds
  // a comma-separated list; the first occurrence on the command line calls `clear`, so
  // the command line replaces the environment's items rather than adding to them.
  Flag& add_list(std::string name, std::function<void(const std::string&)> add,
                 std::function<void()> clear);
  // The same, into a list of strings, each checked by `check` (which throws
  // std::invalid_argument) first.
  Flag& add_list(std::string name, std::vector<std::string>* target,
                 std::function<void(const std::string&)> check = {});

  // Applies the flags' environment variables (skipping unset and empty ones). Call before
  // parse so that the command line wins. A bad value names the flag and the variable.
  void parse_env(const std::function<const char*(const char*)>& getenv);

  // Parses the arguments after the program name. Throws FlagError.
  void parse(const std::vector<std::string>& args);
  void parse(int argc, char** argv);

  // The flag lines of --help: "  --name ARG   help (default D) [env VAR]", wrapped.
  std::string help() const;

 private:
  Flag& declare(std::string name, Flag::Kind kind);
  template <class T>
  void bind_integer(Flag& f, T* target);
  void set(Flag& f, const std::string& value, const std::string& source);
  Flag* find(const std::string& name);

  std::vector<std::unique_ptr<Flag>> flags_;
};

// Number formatting for --help and messages: integers without a fraction, others as %g.
std::string show_number(double v);

// Parsers used by add<T>; exposed for tools with their own value syntax. They throw
// std::invalid_argument saying what is expected.
double parse_number(const std::string& text, const std::optional<double>& lo, bool lo_open,
                    const std::optional<double>& hi);
bool parse_switch(const std::string& text);
// Integers: exact (no fraction or exponent), within [type_min, type_max] and the range.
int64_t parse_int64(const std::string& text, const std::optional<double>& lo, bool lo_open,
                    const std::optional<double>& hi, int64_t type_min, int64_t type_max);
uint64_t parse_uint64(const std::string& text, const std::optional<double>& lo, bool lo_open,
                      const std::optional<double>& hi, uint64_t type_max);

template <class T>
FlagSet::Flag& FlagSet::add(std::string name, T* target) {
  if constexpr (std::is_same_v<T, bool>) {
    Flag& f = declare(std::move(name), Flag::Kind::kSwitch);
    f.set_ = [target](const Flag&, const std::string& v) { *target = parse_switch(v); };
    return f;
  } else if constexpr (std::is_same_v<T, std::string>) {
    Flag& f = declare(std::move(name), Flag::Kind::kValue);
    f.default_ = *target;
    f.set_ = [target](const Flag&, const std::string& v) { *target = v; };
    return f;
  } else if constexpr (std::is_floating_point_v<T>) {
    Flag& f = declare(std::move(name), Flag::Kind::kValue);
    f.default_ = show_number(static_cast<double>(*target));
    f.set_ = [target](const Flag& self, const std::string& v) {
      *target = static_cast<T>(parse_number(v, self.lo_, self.lo_open_, self.hi_));
    };
    return f;
  } else {
    static_assert(std::is_integral_v<T>, "flags are strings, bools, numbers or custom");
    Flag& f = declare(std::move(name), Flag::Kind::kValue);
    bind_integer(f, target);
    return f;
  }
}

template <class T>
void FlagSet::bind_integer(Flag& f, T* target) {
  f.default_ = std::to_string(*target);
  f.set_ = [target](const Flag& self, const std::string& v) {
    if constexpr (std::is_signed_v<T>) {
      *target =
          static_cast<T>(parse_int64(v, self.lo_, self.lo_open_, self.hi_,
                                     std::numeric_limits<T>::min(), std::numeric_limits<T>::max()));
    } else {
      *target = static_cast<T>(
          parse_uint64(v, self.lo_, self.lo_open_, self.hi_, std::numeric_limits<T>::max()));
    }
  };
}

}  // namespace metricsd::tools
