// The daemon's configuration (SPEC §3a): a TOML file over built-in defaults.
// Every key has a default, so no file is needed; a file overrides only what
// it names. Pure except LoadConfigFile, DefaultConfigPath (environment) and
// ProviderKey (reads api_key_file). No function throws.
#ifndef AETHERFLOW_COMMON_CONFIG_H_
#define AETHERFLOW_COMMON_CONFIG_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/plan.h"

namespace aetherflow {

// Config files larger than this are refused (LoadConfigFile).
inline constexpr std::size_t kMaxConfigBytes = 1024 * 1024;

// One OpenAI-compatible endpoint. The request goes to
// base_url + "/chat/completions" (base_url is kept without a trailing '/').
struct ProviderConfig {
  std::string name;
  std::string base_url;
  std::string model;
  std::string api_key_env;   // environment variable holding the key
  // Else this one, when api_key_env is unset or empty (the original tool's
  // names: GOOGLE_API_KEY for gemini, MISTRAL_API_KEY for codestral).
  std::string api_key_env_alt;
  std::string api_key_file;  // else a file holding it (see ProviderKey)
  // USD per million tokens; unset: unknown, so costs are unknown (never $0).
  std::optional<double> price_input;
  std::optional<double> price_cached_input;  // unset: price_input applies
  std::optional<double> price_output;
  int max_concurrency = 5;      // requests in flight to this provider
  int64_t timeout_ms = 120000;  // per request
  bool needs_key = true;        // false: no Authorization header (ollama)
};

// The daemon's capacity for steps' `resources` (SPEC §9): `--resources
// cpu=16,mem=64G,gpu=2` or `[resources]`; what neither names is detected
// (daemon/capacity.h).
struct ResourceCapacity {
  std::optional<double> cpu;
  std::optional<int64_t> mem_bytes;
  std::optional<int> gpu;
};

// Parses "cpu=16,mem=64G,gpu=2" (any subset, any order; mem takes K/M/G/T
// suffixes, powers of 1024, or bytes). InvalidArgument naming the bad part.
// Spaces around entries are allowed; each key at most once; cpu > 0,
// mem > 0, gpu >= 0 (gpu=0: no GPUs, whatever the machine has).
absl::StatusOr<ResourceCapacity> ParseResourceSpec(std::string_view spec);

struct Config {
  int max_parallel = 0;  // [daemon] max_parallel; 0: not set (daemon default)
  ResourceCapacity resources;  // [resources] cpu, mem, gpu
  std::map<std::string, ProviderConfig> providers;  // by name
  // Step type -> provider name; "default" for types without an entry.
  std::map<std::string, std::string> routing;
  // [profiles.NAME.routing]: routing tables chosen by `run --profile NAME`
  // (see ApplyProfile). Built in: fast, build, double-check.
  std::map<std::string, std::map<std::string, std::string>> profiles;
  // [checkin] schedule in ms offsets (see ParseSchedule in common/checkin.h).
  std::vector<int64_t> checkin_schedule;
  std::string source;  // the file it came from, or "built-in"
};

// The built-in configuration: providers deepseek, groq, gemini, mistral,
// codestral, openai, kimi and ollama with their public base URLs, models, key
// variables and list prices; routing analysis -> gemini, code_generation and
// refactoring -> deepseek, patch -> codestral, default -> deepseek; check-ins
// at 30 s, 90 s, then every 300 s; profiles fast (default -> groq), build
// (the built-in routing) and double-check (default -> kimi). source is
// "built-in".
Config BuiltinConfig();

// `config` with the routing of profile `name` ("" : unchanged). A profile
// entry for a step type wins; a type it does not name goes to the profile's
// `default` when it has one, else to the config's own routing.
// InvalidArgumentError `unknown profile "x" (configured: build, ...)`.
absl::StatusOr<Config> ApplyProfile(Config config, std::string_view name);

// BuiltinConfig() with what `toml_text` (the contents of `filename`, used in
// messages and as Config::source) names overriding it.
//
//   [daemon]          max_parallel (integer > 0)
//   [providers.NAME]  base_url, model, api_key_env, api_key_file (strings),
//                     price_input, price_cached_input, price_output (numbers
//                     >= 0), max_concurrency (integer >= 1), timeout ("120s"
//                     or a number of seconds, > 0), needs_key (bool)
//   [routing]         TYPE = "provider" (a built-in or configured provider)
//   [profiles.NAME.routing]  TYPE = "provider", as [routing], for
//                     `run --profile NAME` (NAME as a provider's)
//   [checkin]         schedule = ["30s", "90s", "300s"] or "30s,90s,300s"
//                     (numbers are seconds)
//   [resources]       cpu (number > 0), mem ("64G" as ParseByteSize reads
//                     it, or an integer number of bytes > 0), gpu (integer
//                     >= 0): the daemon's capacity for steps' `resources`
//
// NAME matches [a-z0-9_-]+. A provider that is not built in needs base_url
// and model; its api_key_env defaults to NAME in upper case with '-' -> '_'
// plus "_API_KEY" ("my-llm" -> MY_LLM_API_KEY) and its prices are unknown
// unless given. base_url must start with http:// or https://.
//
// On failure returns InvalidArgumentError listing EVERY problem, one per
// line in file order, each `FILE:LINE:COL: KEY.PATH: problem`, e.g.
//   config.toml:7:1: providers.deepseek.prise_input: unknown key (did you
//       mean "price_input"?)
//   config.toml:3:16: daemon.max_parallel: expected an integer > 0, got 0
// A TOML syntax error is reported alone as `FILE:LINE:COL: description`.
absl::StatusOr<Config> ParseConfig(std::string_view toml_text,
                                   std::string_view filename);

// Reads and parses `path`. NotFoundError when it does not exist (the caller
// decides whether that is fine: the default path usually is optional, an
// explicit --config is not); other read errors with their errno; files over
// kMaxConfigBytes refused; else ParseConfig(contents, path).
absl::StatusOr<Config> LoadConfigFile(const std::string& path);

// system: /etc/aetherflow/aetherflowd.toml. Otherwise
// $XDG_CONFIG_HOME/aetherflow/config.toml when XDG_CONFIG_HOME is an
// absolute path, else ~/.config/aetherflow/config.toml.
std::string DefaultConfigPath(bool system);

// The provider that runs the LLM step `step` (a step without `run`):
// step.provider when set (the explicit `provider`, else `context.provider`),
// else routing[step.type], else routing["default"]. Step types with no
// routing entry (testing, documentation...) go to the default.
// InvalidArgumentError `unknown provider "x" (configured: a, b...)` when the
// chosen name is not in config.providers, or when `step` is a command step.
absl::StatusOr<std::string> RouteStep(const Config& config, const Step& step);

// The environment as ProviderKey sees it: the value of a variable, or
// nullopt when unset. Production code passes a wrapper around getenv.
using GetenvFn = std::function<std::optional<std::string>(const std::string&)>;

// The API key of `provider`: "" when !needs_key; else the value of
// api_key_env (through `getenv`) when set and non-empty; else that of
// api_key_env_alt when set and non-empty; else the contents
// of api_key_file. Surrounding whitespace is trimmed.
//
// api_key_file must be a regular file of at most 64 KiB that others cannot
// read (mode & 0004 == 0, as ssh demands of private keys; group-readable is
// allowed for a system service's `root:aetherflow 0640`).
//
// FailedPreconditionError when there is no key, e.g. `provider deepseek has
// no API key: set DEEPSEEK_API_KEY or api_key_file in the config`, when the
// file cannot be read or is readable by others, or when the key holds
// control characters (it goes into an HTTP header). The key's text never
// appears in any message.
absl::StatusOr<std::string> ProviderKey(const ProviderConfig& provider,
                                        const GetenvFn& getenv);

// A provider of a plan's LLM steps with no usable key (ProviderKey fails),
// and the steps that a submit would refuse for it.
struct KeyProblem {
  std::string provider;
  std::vector<std::string> steps;  // ids, in plan order
  std::string why;                 // ProviderKey's message, no secret
};

// Routes each LLM step of `plan` (RouteStep; a step that cannot be routed
// is left to RouteStep's own error) and checks each provider's key once.
// In the order of each provider's first step. Reads key files.
std::vector<KeyProblem> FindMissingKeys(const Plan& plan, const Config& config,
                                        const GetenvFn& getenv);

// One line naming the steps, the provider, the variable to set and the
// configuration file the daemon reads (`config_path`; "" when unknown):
//   steps a, b (deepseek): provider deepseek has no API key: set
//   DEEPSEEK_API_KEY or api_key_file in the config (aetherflowd reads keys
//   from its own environment and from api_key_file in
//   /home/u/.config/aetherflow/config.toml: restart it from a shell that has
//   the key, or name a key file there)
// At most 5 ids, then "and N more".
std::string DescribeKeyProblem(const KeyProblem& problem, std::string_view config_path);

}  // namespace aetherflow

#endif  // AETHERFLOW_COMMON_CONFIG_H_
