// API token secrets: the "mtd_" + base64url format, uniqueness, and the SHA-256 hex hash.
#include "core/token.hpp"

#include <gtest/gtest.h>

#include <set>

namespace metricsd {
namespace {

constexpr std::string_view kBase64Url =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

TEST(Token, SecretIsPrefixAnd43Base64UrlCharacters) {
  for (int i = 0; i < 200; ++i) {
    std::string s = generate_token_secret();
    ASSERT_EQ(s.size(), 4u + 43u) << s;
    EXPECT_EQ(s.substr(0, 4), "mtd_");
    for (char c : s.substr(4))
      EXPECT_NE(kBase64Url.find(c), std::string_view::npos) << s;
    // 256 bits fill 42 characters and 4 bits of the 43rd; its low 2 bits are zero padding.
    EXPECT_EQ(kBase64Url.find(s.back()) % 4, 0u) << s;
  }
}

TEST(Token, SecretsDiffer) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i)
    seen.insert(generate_token_secret());
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(Token, HashIsSha256AsLowercaseHex) {
  struct Case {
    std::string_view in, hex;
  };
  const Case cases[] = {
      {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
  };
  for (const auto& c : cases)
    EXPECT_EQ(hash_token_secret(c.in), c.hex) << c.in;
}

TEST(Token, HashOfASecretIsStableSixtyFourLowercaseHex) {
  std::string s = generate_token_secret();
  std::string h = hash_token_secret(s);
  ASSERT_EQ(h.size(), 64u);
  for (char c : h)
    EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << h;
  EXPECT_EQ(hash_token_secret(s), h);
  EXPECT_NE(hash_token_secret(generate_token_secret()), h);
}

}  // namespace
}  // namespace metricsd
