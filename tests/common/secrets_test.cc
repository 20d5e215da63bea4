#include "common/secrets.h"

#include <map>
#include <string>

#include "gtest/gtest.h"

namespace aetherflow {
namespace {

TEST(SecretsTest, WellKnownSecretNames) {
  // The names the header promises, and the providers of SPEC §3a.
  EXPECT_TRUE(IsSecretName("OPENAI_API_KEY"));
  EXPECT_TRUE(IsSecretName("DEEPSEEK_API_KEY"));
  EXPECT_TRUE(IsSecretName("GROQ_API_KEY"));
  EXPECT_TRUE(IsSecretName("GEMINI_API_KEY"));
  EXPECT_TRUE(IsSecretName("MISTRAL_API_KEY"));
  EXPECT_TRUE(IsSecretName("AWS_SECRET_ACCESS_KEY"));
  EXPECT_TRUE(IsSecretName("AWS_ACCESS_KEY_ID"));
  EXPECT_TRUE(IsSecretName("AWS_SESSION_TOKEN"));
  EXPECT_TRUE(IsSecretName("GITHUB_TOKEN"));
  EXPECT_TRUE(IsSecretName("HF_TOKEN"));
  EXPECT_TRUE(IsSecretName("PGPASSWORD"));
  EXPECT_TRUE(IsSecretName("SMTP_PASSWD"));
  EXPECT_TRUE(IsSecretName("GOOGLE_APPLICATION_CREDENTIALS"));
  EXPECT_TRUE(IsSecretName("DJANGO_SECRET"));
  EXPECT_TRUE(IsSecretName("SSH_PRIVATE_KEY"));
}

TEST(SecretsTest, NamesEndingInKeyAreSecret) {
  EXPECT_TRUE(IsSecretName("AZURE_OPENAI_KEY"));
  EXPECT_TRUE(IsSecretName("STRIPE_KEY"));
  EXPECT_TRUE(IsSecretName("KEY"));
  EXPECT_TRUE(IsSecretName("OPENAI_APIKEY"));
}

TEST(SecretsTest, CaseInsensitive) {
  EXPECT_TRUE(IsSecretName("openai_api_key"));
  EXPECT_TRUE(IsSecretName("github_token"));
  EXPECT_TRUE(IsSecretName("PgPassword"));
  EXPECT_TRUE(IsSecretName("my_credentials"));
  EXPECT_TRUE(IsSecretName("stripe_key"));
}

TEST(SecretsTest, OrdinaryVariablesAreNotSecret) {
  // What a step needs to run as if started from the submitting shell
  // (SPEC §3): these must be stored and passed on.
  for (const char* name :
       {"PATH", "HOME", "USER", "SHELL", "LANG", "LC_ALL", "TERM", "PWD",
        "VIRTUAL_ENV", "PYTHONPATH", "PYTHONUNBUFFERED", "CUDA_VISIBLE_DEVICES",
        "XDG_CONFIG_HOME", "SSH_AUTH_SOCK", "path", "home"}) {
    EXPECT_FALSE(IsSecretName(name)) << name;
  }
}

TEST(SecretsTest, KeyInsideAWordIsNotSecret) {
  // Only a trailing "_KEY" (or API_KEY, ACCESS_KEY, ...) marks a key; "KEY"
  // as part of another word does not. Reasonable: these hold no secrets.
  EXPECT_FALSE(IsSecretName("KEYBOARD_LAYOUT"));
  EXPECT_FALSE(IsSecretName("XKB_KEYMAP"));
  EXPECT_FALSE(IsSecretName("MONKEY"));
  EXPECT_FALSE(IsSecretName("KEY_FILE_DIR"));
}

TEST(SecretsTest, EmptyNameIsNotSecret) { EXPECT_FALSE(IsSecretName("")); }

TEST(SecretsTest, WithoutAndOnlySecretsPartitionTheEnvironment) {
  const std::map<std::string, std::string> env = {
      {"PATH", "/usr/bin:/bin"},
      {"HOME", "/home/ada"},
      {"OPENAI_API_KEY", "sk-123"},
      {"GITHUB_TOKEN", "ghp_456"},
      {"pgpassword", "hunter2"},
      {"KEYBOARD_LAYOUT", "fr"},
      {"CUDA_VISIBLE_DEVICES", "0,1"},
  };
  std::map<std::string, std::string> kept = WithoutSecrets(env);
  std::map<std::string, std::string> secrets = OnlySecrets(env);

  const std::map<std::string, std::string> expected_kept = {
      {"PATH", "/usr/bin:/bin"},
      {"HOME", "/home/ada"},
      {"KEYBOARD_LAYOUT", "fr"},
      {"CUDA_VISIBLE_DEVICES", "0,1"},
  };
  const std::map<std::string, std::string> expected_secrets = {
      {"OPENAI_API_KEY", "sk-123"},
      {"GITHUB_TOKEN", "ghp_456"},
      {"pgpassword", "hunter2"},
  };
  EXPECT_EQ(kept, expected_kept);
  EXPECT_EQ(secrets, expected_secrets);

  // A partition: disjoint, and together exactly `env`.
  for (const auto& [name, value] : kept) EXPECT_EQ(secrets.count(name), 0u) << name;
  std::map<std::string, std::string> merged = kept;
  merged.insert(secrets.begin(), secrets.end());
  EXPECT_EQ(merged, env);
}

TEST(SecretsTest, NoSecretValueSurvivesWithoutSecrets) {
  const std::map<std::string, std::string> env = {
      {"AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI"}, {"DEEPSEEK_API_KEY", "sk-ds"},
      {"LANG", "fr_FR.UTF-8"}};
  for (const auto& [name, value] : WithoutSecrets(env)) {
    EXPECT_NE(value, "wJalrXUtnFEMI");
    EXPECT_NE(value, "sk-ds");
  }
  EXPECT_EQ(WithoutSecrets(env).size(), 1u);
}

TEST(SecretsTest, EmptyEnvironment) {
  EXPECT_TRUE(WithoutSecrets({}).empty());
  EXPECT_TRUE(OnlySecrets({}).empty());
}

}  // namespace
}  // namespace aetherflow

namespace aetherflow {
namespace {

TEST(SecretsTest, TokenMustBeAWholeWordSoLlmSettingsAreKept) {
  EXPECT_FALSE(IsSecretName("TOKENIZERS_PARALLELISM"));
  EXPECT_FALSE(IsSecretName("OPENAI_MAX_TOKENS"));
  EXPECT_TRUE(IsSecretName("HF_TOKEN"));
  EXPECT_TRUE(IsSecretName("GITHUB_TOKEN"));
  EXPECT_TRUE(IsSecretName("TOKEN_FOR_CI"));
}

TEST(SecretsTest, PwdIsASecretOnlyAsPartOfAName) {
  EXPECT_TRUE(IsSecretName("MYSQL_PWD"));
  EXPECT_FALSE(IsSecretName("PWD"));
  EXPECT_FALSE(IsSecretName("OLDPWD"));
}

}  // namespace
}  // namespace aetherflow
