#include "common/secrets.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"

namespace aetherflow {

bool IsSecretName(std::string_view name) {
  std::string upper = absl::AsciiStrToUpper(absl::string_view(name.data(), name.size()));
  // Whole words of the name, so that TOKENIZERS_PARALLELISM or MAX_TOKENS
  // (common in LLM pipelines) are not taken for secrets.
  for (absl::string_view part : {"SECRET", "PASSWORD", "PASSWD", "PASSPHRASE",
                                  "CREDENTIAL", "APIKEY"}) {
    if (absl::StrContains(upper, part)) return true;
  }
  for (absl::string_view word : absl::StrSplit(upper, '_')) {
    if (word == "TOKEN" || (word == "PWD" && upper != "PWD")) return true;
  }
  return absl::EndsWith(upper, "_KEY") || upper == "KEY" ||
         absl::StrContains(upper, "API_KEY") || absl::StrContains(upper, "ACCESS_KEY") ||
         absl::StrContains(upper, "PRIVATE_KEY") || absl::EndsWith(upper, "TOKEN");
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
