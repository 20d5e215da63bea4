#include "common/secrets.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace aetherflow {

bool IsSecretName(std::string_view name) {
  std::string upper = absl::AsciiStrToUpper(absl::string_view(name.data(), name.size()));
  for (absl::string_view word :
       {"SECRET", "TOKEN", "PASSWORD", "PASSWD", "CREDENTIAL", "API_KEY",
        "APIKEY", "ACCESS_KEY", "PRIVATE_KEY"}) {
    if (absl::StrContains(upper, word)) return true;
  }
  return absl::EndsWith(upper, "_KEY") || upper == "KEY";
}

std::map<std::string, std::string> WithoutSecrets(
    const std::map<std::string, std::string>& env) {
  std::map<std::string, std::string> out;
  for (const auto& [name, value] : env) {
    if (!IsSecretName(name)) out.emplace(name, value);
  }
  return out;
}

std::map<std::string, std::string> OnlySecrets(
    const std::map<std::string, std::string>& env) {
  std::map<std::string, std::string> out;
  for (const auto& [name, value] : env) {
    if (IsSecretName(name)) out.emplace(name, value);
  }
  return out;
}

}  // namespace aetherflow
