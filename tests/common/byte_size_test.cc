#include "common/byte_size.h"

#include <cstdint>
#include <string>

#include "gtest/gtest.h"

namespace aetherflow {
namespace {

constexpr int64_t kK = 1024;
constexpr int64_t kM = kK * 1024;
constexpr int64_t kG = kM * 1024;
constexpr int64_t kT = kG * 1024;

TEST(ByteSizeTest, UnitsArePowersOf1024InAnyCase) {
  const std::pair<const char*, int64_t> cases[] = {
      {"8G", 8 * kG},          {"8g", 8 * kG},      {"8GB", 8 * kG},
      {"8GiB", 8 * kG},        {"8gib", 8 * kG},    {"512M", 512 * kM},
      {"64K", 64 * kK},        {"2T", 2 * kT},      {"1.5G", 3 * kG / 2},
      {"1048576", 1048576},    {"100B", 100},       {"100b", 100},
      {" 4 G ", 4 * kG},       {"0.5K", 512},       {"1.", 1},
      {".5M", kM / 2},
  };
  for (const auto& [text, bytes] : cases) {
    absl::StatusOr<int64_t> parsed = ParseByteSize(text);
    ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.status();
    EXPECT_EQ(*parsed, bytes) << text;
  }
}

TEST(ByteSizeTest, AnythingElseIsRefused) {
  for (const char* text :
       {"", " ", "G", "8X", "8 GG", "8Gi", "8iB", "-1G", "+1G", "1e9", "8G8",
        "0", "0G", "0.1B", "1..5G", "nan", "inf", "8 P", "9000T",
        "99999999999999999999999999999"}) {
    absl::StatusOr<int64_t> parsed = ParseByteSize(text);
    EXPECT_FALSE(parsed.ok()) << text << " gave " << parsed.value_or(-1);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument)
        << text;
  }
  EXPECT_EQ(ParseByteSize("8X").status().message(),
            "expected a size such as \"8G\", \"512M\" or a number of bytes, "
            "got \"8X\"");
  EXPECT_EQ(ParseByteSize("0").status().message(),
            "expected a size of at least 1 byte");
  EXPECT_TRUE(ParseByteSize("8192T").ok());  // kMaxByteSize exactly
}

TEST(ByteSizeTest, FormatPicksTheLargestExactUnit) {
  EXPECT_EQ(FormatByteSize(64 * kG), "64G");
  EXPECT_EQ(FormatByteSize(512 * kM), "512M");
  EXPECT_EQ(FormatByteSize(3 * kG / 2), "1.5G");
  EXPECT_EQ(FormatByteSize(2 * kT), "2T");
  EXPECT_EQ(FormatByteSize(1536), "1.5K");
  EXPECT_EQ(FormatByteSize(100), "100");
  EXPECT_EQ(FormatByteSize(0), "0");
  EXPECT_EQ(FormatByteSize(16318480 * kK), "15.6G");
  for (const int64_t bytes : {kK, 3 * kM, 7 * kG, 64 * kG, 2 * kT}) {
    EXPECT_EQ(ParseByteSize(FormatByteSize(bytes)).value_or(-1), bytes);
  }
}

}  // namespace
}  // namespace aetherflow
