#include "common/version.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

#ifndef AETHERFLOW_VERSION
#error "AETHERFLOW_VERSION comes from CMakeLists.txt (the project version)"
#endif

namespace aetherflow {
namespace {

// MAJOR.MINOR of a version, or "" when it is not one.
std::string MajorMinor(const std::string& version) {
  std::vector<std::string> parts = absl::StrSplit(version, '.');
  if (parts.size() < 2 || parts.size() > 3) return "";
  for (const std::string& part : parts) {
    int number = 0;
    if (!absl::SimpleAtoi(part, &number) || number < 0) return "";
  }
  return absl::StrCat(parts[0], ".", parts[1]);
}

}  // namespace

const char* Version() { return AETHERFLOW_VERSION; }

std::string VersionSkew(const std::string& client, const std::string& daemon,
                        const std::string& where) {
  const std::string ours = MajorMinor(client);
  if (!ours.empty() && ours == MajorMinor(daemon)) return "";
  return absl::StrCat("this client is ", client, " and aetherflowd at ", where, " is ",
                      daemon,
                      ": different minor versions may not understand each other "
                      "(install the same version of both, then restart the daemon)");
}

}  // namespace aetherflow
