// The one version number of AetherFlow: the CMake project version, built
// into both binaries, reported by the daemon (GetVersion, and an
// `aetherflow-version` header on every answer) and written into the
// package and the man pages.
#ifndef AETHERFLOW_COMMON_VERSION_H_
#define AETHERFLOW_COMMON_VERSION_H_

#include <string>

namespace aetherflow {

// "MAJOR.MINOR.PATCH", e.g. "0.1.0".
const char* Version();

// The name of the response header that carries the daemon's version.
inline constexpr char kVersionHeader[] = "aetherflow-version";

// "" when `client` and `daemon` have the same major and minor version (a
// patch release changes nothing the other side sees); else one line that
// says which is which, e.g. "this client is 0.1.0 and aetherflowd at
// /run/aetherflow.sock is 0.2.0: different minor versions ...". One that is not
// MAJOR.MINOR[.PATCH] counts as different.
std::string VersionSkew(const std::string& client, const std::string& daemon,
                        const std::string& where);

}  // namespace aetherflow

#endif  // AETHERFLOW_COMMON_VERSION_H_
