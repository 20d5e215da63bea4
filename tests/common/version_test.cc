#include "common/version.h"

#include "gtest/gtest.h"

namespace aetherflow {
namespace {

TEST(VersionTest, IsTheProjectVersion) {
  EXPECT_EQ(std::string(Version()), AETHERFLOW_PROJECT_VERSION);
}

TEST(VersionTest, SameMinorSaysNothing) {
  EXPECT_EQ(VersionSkew("0.1.0", "0.1.0", "/s"), "");
  EXPECT_EQ(VersionSkew("0.1.0", "0.1.7", "/s"), "");  // a patch release
  EXPECT_EQ(VersionSkew("1.2", "1.2.3", "/s"), "");
}

TEST(VersionTest, OtherMinorOrMajorSaysWhichIsWhich) {
  EXPECT_EQ(VersionSkew("0.1.0", "0.2.0", "/run/a.sock"),
            "this client is 0.1.0 and aetherflowd at /run/a.sock is 0.2.0: different "
            "minor versions may not understand each other (install the same version "
            "of both, then restart the daemon)");
  EXPECT_NE(VersionSkew("0.1.0", "1.1.0", "/s"), "");
}

TEST(VersionTest, NotAVersionCountsAsDifferent) {
  EXPECT_NE(VersionSkew("0.1.0", "", "/s"), "");
  EXPECT_NE(VersionSkew("0.1.0", "0.1.x", "/s"), "");
  EXPECT_NE(VersionSkew("0.1.0", "0.1.0.0", "/s"), "");
}

}  // namespace
}  // namespace aetherflow
