// API token secrets: generation and the hash that is stored instead of the secret.
#pragma once

#include <string>
#include <string_view>

namespace metricsd {

// A new secret: "mtd_" + 43 base64url characters (256 random bits).
std::string generate_token_secret();

// SHA-256 of the secret, as lowercase hex. Only this is stored.
std::string hash_token_secret(std::string_view secret);

}  // namespace metricsd
