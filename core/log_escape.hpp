// Text that came from a client, made safe for one log line: what a request carries (its
// path, header values, a token's name, an error message quoting them) can hold a newline
// that would forge a log line, a NUL, terminal escapes or bytes that are not UTF-8.
#pragma once

#include <string>
#include <string_view>

namespace metricsd {

enum class LogField {
  kText,  // inside a message, or a quoted field: spaces stay
  kBare,  // a field of its own, delimited by spaces (the access log's path): spaces escaped
};

// Valid UTF-8 stays as it is, except: C0 controls, DEL and the C1 controls (U+0080 to
// U+009F) become `\xNN` per byte (`\n` -> `\x0a`); each byte that is not part of valid
// UTF-8 (overlong forms, surrogates, past U+10FFFF, cut short) becomes `\xNN`; a
// backslash becomes `\\` and a double quote `\"`, so the escaped text reads back
// unambiguously and cannot end a quoted field; with kBare, a space becomes `\x20`.
std::string escape_for_log(std::string_view text, LogField field = LogField::kText);

}  // namespace metricsd
