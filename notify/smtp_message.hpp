// The text of an alert e-mail as SMTP carries it: checking the envelope addresses,
// the header block (Date, From, To, Subject, Message-ID, MIME), RFC 2047 encoded words
// for non-ASCII header text, and the body with CRLF line ends, quoted-printable when it
// must be, and dot-stuffing. Pure functions, no I/O; smtp_client.cpp sends the result.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "notify/smtp_client.hpp"

namespace metricsd::notify {

// `from` split into its parts: "metricsd <alerts@example.com>" -> {"metricsd",
// "alerts@example.com"}; a bare address has no display name.
struct Mailbox {
  std::string display_name;
  std::string address;
};

// Throws std::invalid_argument naming the field when `from` has CR or LF, no address, an
// unclosed '<', or an address check_address() refuses.
Mailbox parse_mailbox(const std::string& from);

// Throws std::invalid_argument unless `address` is a usable envelope address: an '@'
// with something on both sides, no white space, control bytes, angle brackets or non-ASCII
// bytes. `field` names it in the message ("to", "from").
void check_address(std::string_view address, std::string_view field);

// All the checks send_email() does before connecting (see smtp_client.hpp).
void check_message(const EmailMessage& message);

// Header text as it may follow "Name: ": as given when it is printable ASCII (and holds no
// "=?", which a reader would try to decode), else RFC 2047 "=?UTF-8?B?...?=" words of at
// most 75 characters, folded with CRLF SP, never splitting a UTF-8 sequence.
std::string encode_header_text(std::string_view text);

// RFC 4648 base64 with padding and no line breaks (encoded words, AUTH responses).
std::string encode_base64(std::string_view bytes);

// True when the body has a byte outside 7-bit ASCII (it then needs 8BITMIME to go as 8bit).
bool has_8bit(std::string_view text);

// The DATA section: headers, blank line and body, every line ending in CRLF, lines that
// start with '.' doubled; without the final ".\r\n". The body goes as 8bit when
// `eight_bit_ok` or it is ASCII, and no line is longer than 998 octets; otherwise as
// quoted-printable. `message` must have passed check_message().
std::string format_data(const EmailMessage& message, bool eight_bit_ok,
                        std::chrono::system_clock::time_point now);

}  // namespace metricsd::notify
