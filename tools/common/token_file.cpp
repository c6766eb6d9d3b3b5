// Bearer token loading (see token_file.hpp).
#include "tools/common/token_file.hpp"

#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace metricsd::tools {

std::string load_token(const std::string& token_file) {
  std::string token;
  if (!token_file.empty()) {
    std::ifstream in(token_file);
    if (!in) throw std::runtime_error("cannot read token file " + token_file);
    std::getline(in, token);
  } else if (const char* env = std::getenv("METRICSD_TOKEN")) {
    token = env;
  } else {
    return "";
  }
  const auto b = token.find_first_not_of(" \t\r\n");
  const auto e = token.find_last_not_of(" \t\r\n");
  token = b == std::string::npos ? "" : token.substr(b, e - b + 1);
  if (token.empty() && !token_file.empty())
    throw std::runtime_error("token file " + token_file + " is empty");
  return token;
}

}  // namespace metricsd::tools
