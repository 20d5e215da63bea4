#include "common/project_path.h"

#include <string>

#include "gtest/gtest.h"

namespace aetherflow {
namespace {

std::string Refusal(std::string_view path) {
  absl::StatusOr<std::string> got = NormalizeProjectPath(path);
  EXPECT_FALSE(got.ok()) << path << " -> " << *got;
  if (got.ok()) return "";
  EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
  std::string message(got.status().message());
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  return message;
}

TEST(ProjectPathTest, NormalisesPlainRelativePaths) {
  EXPECT_EQ(*NormalizeProjectPath("src/api.py"), "src/api.py");
  EXPECT_EQ(*NormalizeProjectPath("./src//api.py"), "src/api.py");
  EXPECT_EQ(*NormalizeProjectPath("././a/./b.txt"), "a/b.txt");
  EXPECT_EQ(*NormalizeProjectPath("my file.py"), "my file.py");
  EXPECT_EQ(*NormalizeProjectPath(".gitignore"), ".gitignore");
  EXPECT_EQ(*NormalizeProjectPath("a/.github/ci.yml"), "a/.github/ci.yml");
  EXPECT_EQ(*NormalizeProjectPath("..hidden"), "..hidden");
  EXPECT_EQ(*NormalizeProjectPath("caf\xc3\xa9.py"), "caf\xc3\xa9.py");
}

TEST(ProjectPathTest, RefusesDotDotAnywhere) {
  EXPECT_NE(Refusal("../etc/passwd").find("\"..\""), std::string::npos);
  Refusal("a/../../b");
  Refusal("a/../b");  // lexically inside, but a plan names files plainly
  Refusal("src/..");
  Refusal("..");
}

TEST(ProjectPathTest, RefusesAbsolutePaths) {
  std::string message = Refusal("/etc/passwd");
  EXPECT_NE(message.find("/etc/passwd"), std::string::npos) << message;
  EXPECT_NE(message.find("absolute"), std::string::npos) << message;
  Refusal("//server/share");
}

TEST(ProjectPathTest, RefusesEmptyDirectoriesAndTheProjectItself) {
  Refusal("");
  Refusal(".");
  Refusal("./");
  Refusal("src/");
  Refusal("./.");
}

TEST(ProjectPathTest, RefusesControlCharactersAndNul) {
  Refusal(std::string("a\0b", 3));
  std::string message = Refusal("a\nb.py");
  EXPECT_NE(message.find("a?b.py"), std::string::npos) << message;
  Refusal("a\x7f");
}

TEST(ProjectPathTest, RefusesGitInternals) {
  Refusal(".git/hooks/pre-commit");
  Refusal("sub/.git/config");
  Refusal(".git");
}

TEST(ProjectPathTest, RefusesOverlongNames) {
  Refusal(std::string(256, 'a'));
  EXPECT_TRUE(NormalizeProjectPath(std::string(255, 'a')).ok());
  std::string deep;
  while (deep.size() <= 4096) deep += "abcdefgh/";
  Refusal(deep + "x");
}

TEST(ProjectPathTest, SameProjectPathComparesNormalisedForms) {
  EXPECT_TRUE(SameProjectPath("./a//b.py", "a/b.py"));
  EXPECT_FALSE(SameProjectPath("a/b.py", "b.py"));
  EXPECT_FALSE(SameProjectPath("../a", "../a"));
}

}  // namespace
}  // namespace aetherflow
