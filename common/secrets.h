// Which environment variables hold secrets. Their values never reach the
// database, logs, events or exports.
#ifndef AETHERFLOW_COMMON_SECRETS_H_
#define AETHERFLOW_COMMON_SECRETS_H_

#include <map>
#include <string>
#include <string_view>

namespace aetherflow {

// True for names like OPENAI_API_KEY, AWS_SECRET_ACCESS_KEY, GITHUB_TOKEN,
// PGPASSWORD, *_CREDENTIALS (case-insensitive).
bool IsSecretName(std::string_view name);

// `env` without its secret-looking variables.
std::map<std::string, std::string> WithoutSecrets(
    const std::map<std::string, std::string>& env);

// Only the secret-looking variables of `env`.
std::map<std::string, std::string> OnlySecrets(
    const std::map<std::string, std::string>& env);

}  // namespace aetherflow

#endif  // AETHERFLOW_COMMON_SECRETS_H_
