#include "common/config.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace aetherflow {
namespace {

::testing::AssertionResult Contains(const char* text_expr,
                                    const char* part_expr,
                                    const std::string& text,
                                    const std::string& part) {
  if (text.find(part) != std::string::npos) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << text_expr << " does not contain " << part_expr
         << "\n  text: " << text.substr(0, 2000) << "\n  part: " << part;
}

::testing::AssertionResult Lacks(const char* text_expr, const char* part_expr,
                                 const std::string& text,
                                 const std::string& part) {
  if (text.find(part) == std::string::npos) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << text_expr << " contains " << part_expr
                                       << "\n  text: " << text.substr(0, 2000);
}

#define EXPECT_CONTAINS(text, part) EXPECT_PRED_FORMAT2(Contains, text, part)
#define EXPECT_LACKS(text, part) EXPECT_PRED_FORMAT2(Lacks, text, part)

std::string Message(const absl::Status& status) {
  return std::string(status.message());
}

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = ::testing::TempDir() + "/config_test.XXXXXX";
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    dir_ = templ;
  }
  void TearDown() override {
    for (const std::string& f : files_) ::unlink(f.c_str());
    ::rmdir(dir_.c_str());
  }

  std::string WriteFile(const std::string& name, const std::string& text,
                        mode_t mode = 0600) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    ::chmod(path.c_str(), mode);
    files_.push_back(path);
    return path;
  }

  Config Parse(const std::string& text) {
    absl::StatusOr<Config> config = ParseConfig(text, "config.toml");
    EXPECT_TRUE(config.ok()) << config.status();
    return config.ok() ? *config : Config{};
  }

  std::string Error(const std::string& text) {
    absl::StatusOr<Config> config = ParseConfig(text, "config.toml");
    EXPECT_FALSE(config.ok());
    if (config.ok()) return "";
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
    return Message(config.status());
  }

  std::string dir_;
  std::vector<std::string> files_;
};

// ------------------------------------------------------------- built-ins

TEST_F(ConfigTest, BuiltinProvidersHaveTheirPublicUrls) {
  const Config c = BuiltinConfig();
  EXPECT_EQ(c.source, "built-in");
  const std::map<std::string, std::string> urls = {
      {"deepseek", "https://api.deepseek.com/v1"},
      {"groq", "https://api.groq.com/openai/v1"},
      {"gemini", "https://generativelanguage.googleapis.com/v1beta/openai"},
      {"mistral", "https://api.mistral.ai/v1"},
      {"codestral", "https://codestral.mistral.ai/v1"},
      {"openai", "https://api.openai.com/v1"},
      {"ollama", "http://localhost:11434/v1"},
      {"kimi", "https://api.moonshot.ai/v1"},
  };
  EXPECT_EQ(c.providers.size(), urls.size());
  for (const auto& [name, url] : urls) {
    ASSERT_EQ(c.providers.count(name), 1u) << name;
    const ProviderConfig& p = c.providers.at(name);
    EXPECT_EQ(p.name, name);
    EXPECT_EQ(p.base_url, url) << name;
    EXPECT_FALSE(p.model.empty()) << name;
    if (name == "kimi") continue;  // prices unknown: Moonshot's vary by model
    EXPECT_TRUE(p.price_input.has_value()) << name;
    EXPECT_TRUE(p.price_output.has_value()) << name;
    EXPECT_EQ(p.timeout_ms, 120000) << name;
  }
}

TEST_F(ConfigTest, BuiltinDetails) {
  const Config c = BuiltinConfig();
  const ProviderConfig& ds = c.providers.at("deepseek");
  EXPECT_EQ(ds.model, "deepseek-chat");
  EXPECT_EQ(ds.api_key_env, "DEEPSEEK_API_KEY");
  EXPECT_DOUBLE_EQ(*ds.price_input, 0.27);
  EXPECT_DOUBLE_EQ(*ds.price_cached_input, 0.07);
  EXPECT_DOUBLE_EQ(*ds.price_output, 1.10);
  EXPECT_EQ(ds.max_concurrency, 5);
  EXPECT_TRUE(ds.needs_key);

  EXPECT_EQ(c.providers.at("groq").model, "llama-3.3-70b-versatile");
  EXPECT_EQ(c.providers.at("groq").max_concurrency, 10);
  EXPECT_FALSE(c.providers.at("groq").price_cached_input.has_value());
  EXPECT_EQ(c.providers.at("gemini").model, "gemini-2.0-flash");
  EXPECT_EQ(c.providers.at("codestral").api_key_env, "CODESTRAL_API_KEY");
  EXPECT_DOUBLE_EQ(*c.providers.at("openai").price_cached_input, 0.075);
  EXPECT_DOUBLE_EQ(*c.providers.at("mistral").price_output, 6.0);

  const ProviderConfig& ollama = c.providers.at("ollama");
  EXPECT_FALSE(ollama.needs_key);
  EXPECT_EQ(ollama.max_concurrency, 2);
  EXPECT_DOUBLE_EQ(*ollama.price_input, 0.0);

  const std::map<std::string, std::string> routing = {
      {"analysis", "gemini"},
      {"code_generation", "deepseek"},
      {"refactoring", "deepseek"},
      {"patch", "codestral"},
      {"default", "deepseek"}};
  EXPECT_EQ(c.routing, routing);
  EXPECT_EQ(c.checkin_schedule, (std::vector<int64_t>{30000, 90000, 300000}));
  EXPECT_EQ(c.max_parallel, 0);
}

TEST_F(ConfigTest, EmptyFileIsTheBuiltins) {
  const Config c = Parse("");
  const Config b = BuiltinConfig();
  EXPECT_EQ(c.source, "config.toml");
  EXPECT_EQ(c.providers.size(), b.providers.size());
  EXPECT_EQ(c.routing, b.routing);
  EXPECT_EQ(c.checkin_schedule, b.checkin_schedule);
}

// ------------------------------------------------------------- overrides

TEST_F(ConfigTest, OverridingOnePriceKeepsTheRest) {
  const Config c = Parse("[providers.deepseek]\nprice_input = 0.5\n");
  const ProviderConfig& ds = c.providers.at("deepseek");
  EXPECT_DOUBLE_EQ(*ds.price_input, 0.5);
  EXPECT_DOUBLE_EQ(*ds.price_output, 1.10);
  EXPECT_DOUBLE_EQ(*ds.price_cached_input, 0.07);
  EXPECT_EQ(ds.base_url, "https://api.deepseek.com/v1");
  EXPECT_EQ(ds.model, "deepseek-chat");
  EXPECT_EQ(ds.api_key_env, "DEEPSEEK_API_KEY");
  // The other providers are untouched.
  EXPECT_EQ(c.providers.size(), BuiltinConfig().providers.size());
  EXPECT_EQ(c.providers.at("groq").base_url, "https://api.groq.com/openai/v1");
}

TEST_F(ConfigTest, TheSpecExampleParses) {
  const Config c = Parse(R"(
[daemon]
max_parallel = 8

[providers.deepseek]
base_url = "https://api.deepseek.com/v1"
model = "deepseek-chat"
api_key_env = "DEEPSEEK_API_KEY"   # or api_key_file = "/etc/aetherflow/deepseek.key"
price_input = 0.27                 # USD per million input tokens
price_cached_input = 0.07          # USD per million cache-hit input tokens
price_output = 1.10                # USD per million output tokens
max_concurrency = 5
timeout = "120s"

[routing]                          # step type -> provider
analysis = "gemini"
code_generation = "deepseek"
refactoring = "deepseek"
patch = "codestral"
default = "deepseek"

[checkin]
schedule = ["30s", "90s", "300s"]  # T+30s, T+90s, then every 300 s
)");
  EXPECT_EQ(c.max_parallel, 8);
  EXPECT_EQ(c.providers.at("deepseek").timeout_ms, 120000);
  EXPECT_EQ(c.routing.at("patch"), "codestral");
  EXPECT_EQ(c.checkin_schedule, (std::vector<int64_t>{30000, 90000, 300000}));
}

TEST_F(ConfigTest, EveryProviderKey) {
  const Config c = Parse(R"(
[providers.openai]
base_url = "https://proxy.example.com/v1/"
model = "gpt-4o"
api_key_env = "MY_OPENAI_KEY"
api_key_file = "/etc/aetherflow/openai.key"
price_input = 2
price_cached_input = 1.25
price_output = 10
max_concurrency = 3
timeout = 90
needs_key = false
)");
  const ProviderConfig& p = c.providers.at("openai");
  EXPECT_EQ(p.base_url, "https://proxy.example.com/v1");  // no trailing '/'
  EXPECT_EQ(p.model, "gpt-4o");
  EXPECT_EQ(p.api_key_env, "MY_OPENAI_KEY");
  EXPECT_EQ(p.api_key_file, "/etc/aetherflow/openai.key");
  EXPECT_DOUBLE_EQ(*p.price_input, 2.0);  // integers are accepted
  EXPECT_DOUBLE_EQ(*p.price_cached_input, 1.25);
  EXPECT_DOUBLE_EQ(*p.price_output, 10.0);
  EXPECT_EQ(p.max_concurrency, 3);
  EXPECT_EQ(p.timeout_ms, 90000);  // plain seconds
  EXPECT_FALSE(p.needs_key);
}

TEST_F(ConfigTest, TimeoutForms) {
  EXPECT_EQ(Parse("[providers.groq]\ntimeout = \"2m\"\n")
                .providers.at("groq")
                .timeout_ms,
            120000);
  EXPECT_EQ(Parse("[providers.groq]\ntimeout = 1.5\n")
                .providers.at("groq")
                .timeout_ms,
            1500);
  EXPECT_CONTAINS(Error("[providers.groq]\ntimeout = 0\n"),
                  "config.toml:2:11: providers.groq.timeout: expected");
  EXPECT_CONTAINS(Error("[providers.groq]\ntimeout = \"soon\"\n"),
                  "providers.groq.timeout: invalid duration");
}

TEST_F(ConfigTest, NewProviderIsAdded) {
  const Config c = Parse(R"(
[providers.local-vllm]
base_url = "http://gpu-box:8000/v1"
model = "qwen2.5-coder"

[routing]
code_generation = "local-vllm"
)");
  ASSERT_EQ(c.providers.count("local-vllm"), 1u);
  const ProviderConfig& p = c.providers.at("local-vllm");
  EXPECT_EQ(p.name, "local-vllm");
  EXPECT_EQ(p.base_url, "http://gpu-box:8000/v1");
  EXPECT_EQ(p.api_key_env, "LOCAL_VLLM_API_KEY");
  EXPECT_FALSE(p.price_input.has_value());  // unknown, not 0
  EXPECT_FALSE(p.price_output.has_value());
  EXPECT_EQ(c.routing.at("code_generation"), "local-vllm");
  EXPECT_EQ(c.routing.at("default"), "deepseek");  // kept
}

TEST_F(ConfigTest, NewProviderNeedsUrlAndModel) {
  const std::string error = Error("[providers.mine]\nprice_input = 1\n");
  EXPECT_CONTAINS(error,
                  "config.toml:1:1: providers.mine: missing "
                  "base_url");
  EXPECT_CONTAINS(error, "providers.mine: missing model");
}

TEST_F(ConfigTest, RelativeKeyFileIsBesideTheConfig) {
  absl::StatusOr<Config> c = ParseConfig(
      "[providers.groq]\napi_key_file = \"groq.key\"\n", "/etc/af/c.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->providers.at("groq").api_key_file, "/etc/af/groq.key");
}

// ------------------------------------------------------------- errors

TEST_F(ConfigTest, UnknownKeyNamesFileLineAndKey) {
  const std::string error = Error(R"(# my config
[daemon]
max_parallel = 4

[providers.deepseek]
model = "deepseek-chat"
prise_input = 0.3
)");
  EXPECT_CONTAINS(error,
                  "config.toml:7:1: providers.deepseek.prise_input: "
                  "unknown key");
  EXPECT_CONTAINS(error, "did you mean \"price_input\"?");
}

TEST_F(ConfigTest, UnknownSectionAndDaemonKey) {
  EXPECT_CONTAINS(Error("[deamon]\nmax_parallel = 2\n"),
                  "config.toml:1:2: deamon: unknown key (did you mean "
                  "\"daemon\"?)");
  EXPECT_CONTAINS(Error("[daemon]\nsocket = \"/tmp/s\"\n"),
                  "config.toml:2:1: daemon.socket: unknown key");
  EXPECT_CONTAINS(Error("[checkin]\nshedule = \"30s\"\n"),
                  "config.toml:2:1: checkin.shedule: unknown key");
}

TEST_F(ConfigTest, WrongTypeNamesFileLineAndKey) {
  EXPECT_CONTAINS(Error("[daemon]\nmax_parallel = \"8\"\n"),
                  "config.toml:2:16: daemon.max_parallel: expected an "
                  "integer > 0, got a string");
  EXPECT_CONTAINS(Error("[providers.groq]\nprice_output = \"cheap\"\n"),
                  "config.toml:2:16: providers.groq.price_output: "
                  "expected a number, got a string");
  EXPECT_CONTAINS(Error("[providers.groq]\nneeds_key = 1\n"),
                  "providers.groq.needs_key: expected true or false");
  EXPECT_CONTAINS(Error("providers = 3\n"),
                  "config.toml:1:13: providers: expected a table");
  EXPECT_CONTAINS(Error("[providers]\ngroq = \"x\"\n"),
                  "config.toml:2:8: providers.groq: expected a table");
}

TEST_F(ConfigTest, OutOfRangeValues) {
  EXPECT_CONTAINS(Error("[daemon]\nmax_parallel = 0\n"),
                  "daemon.max_parallel: expected an integer > 0, got 0");
  EXPECT_CONTAINS(Error("[providers.groq]\nmax_concurrency = 0\n"),
                  "providers.groq.max_concurrency: expected an integer "
                  ">= 1");
  EXPECT_CONTAINS(Error("[providers.groq]\nprice_input = -1\n"),
                  "providers.groq.price_input: expected a number >= 0");
  EXPECT_CONTAINS(Error("[providers.groq]\nprice_input = nan\n"),
                  "providers.groq.price_input: expected a number >= 0");
  EXPECT_CONTAINS(Error("[providers.groq]\nbase_url = \"ftp://x\"\n"),
                  "providers.groq.base_url: expected an http");
  EXPECT_CONTAINS(Error("[providers.groq]\napi_key_env = \"MY KEY\"\n"),
                  "providers.groq.api_key_env: expected an environment");
  EXPECT_CONTAINS(Error("[providers.Bad_Name]\nbase_url = \"http://x\"\n"),
                  "providers.Bad_Name: invalid provider name");
}

TEST_F(ConfigTest, TomlSyntaxErrorHasLineAndColumn) {
  const std::string error = Error("[daemon]\nmax_parallel = = 3\n");
  EXPECT_EQ(error.rfind("config.toml:2:", 0), 0u) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos);  // reported alone
}

TEST_F(ConfigTest, EveryProblemAtOnceInFileOrder) {
  // Sections and keys out of the order in which they are checked (and of
  // toml++'s alphabetical order): the report still follows the file.
  const std::string error = Error(R"([checkin]
schedule = ["30s", "0s"]

[routing]
analysis = "nobody"

[providers.groq]
price_output = "free"
modle = "x"

[daemon]
max_parallel = -1
)");
  const std::vector<std::string> lines = [&] {
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= error.size()) {
      size_t end = error.find('\n', start);
      if (end == std::string::npos) end = error.size();
      out.push_back(error.substr(start, end - start));
      start = end + 1;
    }
    return out;
  }();
  ASSERT_EQ(lines.size(), 5u) << error;
  EXPECT_CONTAINS(lines[0], "config.toml:2:12: checkin.schedule");
  EXPECT_CONTAINS(lines[1],
                  "config.toml:5:12: routing.analysis: unknown provider "
                  "\"nobody\"");
  EXPECT_CONTAINS(lines[2], "config.toml:8:16: providers.groq.price_output");
  EXPECT_CONTAINS(lines[3],
                  "config.toml:9:1: providers.groq.modle: unknown key (did "
                  "you mean \"model\"?)");
  EXPECT_CONTAINS(lines[4], "config.toml:12:16: daemon.max_parallel");
}

TEST_F(ConfigTest, RoutingMustNameAKnownProvider) {
  const std::string error = Error("[routing]\ndefault = \"deepsek\"\n");
  EXPECT_CONTAINS(error, "routing.default: unknown provider \"deepsek\"");
  EXPECT_CONTAINS(error, "(configured: codestral, deepseek, gemini");
  EXPECT_CONTAINS(Error("[routing]\ndefault = 3\n"),
                  "routing.default: expected a string, got an integer");
}

// ------------------------------------------------------------- check-ins

TEST_F(ConfigTest, CheckinScheduleForms) {
  EXPECT_EQ(Parse("[checkin]\nschedule = [\"10s\", \"1m\", \"5m\"]\n")
                .checkin_schedule,
            (std::vector<int64_t>{10000, 60000, 300000}));
  EXPECT_EQ(Parse("[checkin]\nschedule = \"10s, 1m,5m\"\n").checkin_schedule,
            (std::vector<int64_t>{10000, 60000, 300000}));
  EXPECT_EQ(Parse("[checkin]\nschedule = [15, 45]\n").checkin_schedule,
            (std::vector<int64_t>{15000, 45000}));
  EXPECT_EQ(Parse("[checkin]\nschedule = \"2m\"\n").checkin_schedule,
            (std::vector<int64_t>{120000}));
}

TEST_F(ConfigTest, BadCheckinSchedules) {
  EXPECT_CONTAINS(Error("[checkin]\nschedule = []\n"),
                  "config.toml:2:12: checkin.schedule");
  EXPECT_CONTAINS(Error("[checkin]\nschedule = \"0s\"\n"), "checkin.schedule");
  EXPECT_CONTAINS(Error("[checkin]\nschedule = [\"30s\", true]\n"),
                  "config.toml:2:20: checkin.schedule: expected a "
                  "duration");
  EXPECT_CONTAINS(Error("[checkin]\nschedule = [\"30s,90s\"]\n"),
                  "one duration per entry");
  EXPECT_CONTAINS(Error("[checkin]\nschedule = 30\n"),
                  "checkin.schedule: expected");
}

// ------------------------------------------------------------- files

TEST_F(ConfigTest, LoadConfigFile) {
  const std::string path =
      WriteFile("c.toml", "[daemon]\nmax_parallel = 3\n", 0644);
  absl::StatusOr<Config> c = LoadConfigFile(path);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->max_parallel, 3);
  EXPECT_EQ(c->source, path);

  absl::StatusOr<Config> missing = LoadConfigFile(dir_ + "/nope.toml");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);

  const std::string bad = WriteFile("bad.toml", "[daemon]\nx = 1\n", 0644);
  absl::StatusOr<Config> b = LoadConfigFile(bad);
  EXPECT_CONTAINS(Message(b.status()), bad + ":2:1: daemon.x");
}

TEST_F(ConfigTest, DefaultConfigPaths) {
  EXPECT_EQ(DefaultConfigPath(true), "/etc/aetherflow/aetherflowd.toml");
  const char* old_xdg = getenv("XDG_CONFIG_HOME");
  const std::optional<std::string> saved =
      old_xdg ? std::optional<std::string>(old_xdg) : std::nullopt;
  setenv("XDG_CONFIG_HOME", "/x/conf", 1);
  EXPECT_EQ(DefaultConfigPath(false), "/x/conf/aetherflow/config.toml");
  unsetenv("XDG_CONFIG_HOME");
  const char* home = getenv("HOME");
  if (home != nullptr && home[0] != '\0') {
    EXPECT_EQ(DefaultConfigPath(false),
              std::string(home) + "/.config/aetherflow/config.toml");
  }
  if (saved) setenv("XDG_CONFIG_HOME", saved->c_str(), 1);
}

// ------------------------------------------------------------- routing

Step LlmStep(const std::string& type, const std::string& provider = "") {
  Step s;
  s.id = "s1";
  s.type = type;
  s.provider = provider;
  return s;
}

TEST_F(ConfigTest, RouteStepByType) {
  const Config c = BuiltinConfig();
  EXPECT_EQ(*RouteStep(c, LlmStep("analysis")), "gemini");
  EXPECT_EQ(*RouteStep(c, LlmStep("code_generation")), "deepseek");
  EXPECT_EQ(*RouteStep(c, LlmStep("patch")), "codestral");
  // Types without an entry go to the default.
  EXPECT_EQ(*RouteStep(c, LlmStep("testing")), "deepseek");
  EXPECT_EQ(*RouteStep(c, LlmStep("documentation")), "deepseek");
  EXPECT_EQ(*RouteStep(c, LlmStep("")), "deepseek");
}

TEST_F(ConfigTest, RouteStepFollowsTheConfigsRouting) {
  const Config c =
      Parse("[routing]\ndefault = \"groq\"\ntesting = \"openai\"\n");
  EXPECT_EQ(*RouteStep(c, LlmStep("testing")), "openai");
  EXPECT_EQ(*RouteStep(c, LlmStep("enhancement")), "groq");
  EXPECT_EQ(*RouteStep(c, LlmStep("analysis")), "gemini");
}

TEST_F(ConfigTest, RouteStepExplicitProviderWins) {
  const Config c = BuiltinConfig();
  // Step::provider holds the explicit `provider` or `context.provider`.
  EXPECT_EQ(*RouteStep(c, LlmStep("analysis", "ollama")), "ollama");
  EXPECT_EQ(*RouteStep(c, LlmStep("", "mistral")), "mistral");
}

TEST_F(ConfigTest, RouteStepUnknownProvider) {
  absl::StatusOr<std::string> r =
      RouteStep(BuiltinConfig(), LlmStep("analysis", "nobody"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_CONTAINS(Message(r.status()), "unknown provider \"nobody\"");

  Config c = BuiltinConfig();
  c.routing.erase("default");
  EXPECT_FALSE(RouteStep(c, LlmStep("testing")).ok());
}

TEST_F(ConfigTest, RouteStepRefusesCommandSteps) {
  Step s = LlmStep("compute", "shell");
  s.shell = "true";
  EXPECT_FALSE(RouteStep(BuiltinConfig(), s).ok());
}

// ------------------------------------------------------------- keys

GetenvFn FakeEnv(std::map<std::string, std::string> env) {
  return [env](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
}

TEST_F(ConfigTest, ProviderKeyFromEnvironment) {
  const ProviderConfig p = BuiltinConfig().providers.at("deepseek");
  absl::StatusOr<std::string> key =
      ProviderKey(p, FakeEnv({{"DEEPSEEK_API_KEY", " sk-abc123\n"}}));
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(*key, "sk-abc123");
}

TEST_F(ConfigTest, OriginalToolKeyNamesWhenTheUsualIsUnset) {
  const Config c = BuiltinConfig();
  const ProviderConfig& gemini = c.providers.at("gemini");
  const ProviderConfig& codestral = c.providers.at("codestral");
  EXPECT_EQ(*ProviderKey(gemini, FakeEnv({{"GOOGLE_API_KEY", "g-key"}})), "g-key");
  EXPECT_EQ(*ProviderKey(gemini, FakeEnv({{"GEMINI_API_KEY", "gem"}, {"GOOGLE_API_KEY", "g"}})),
            "gem");
  EXPECT_EQ(*ProviderKey(gemini, FakeEnv({{"GEMINI_API_KEY", ""}, {"GOOGLE_API_KEY", "g"}})),
            "g");
  EXPECT_EQ(*ProviderKey(codestral, FakeEnv({{"MISTRAL_API_KEY", "m-key"}})), "m-key");
  EXPECT_EQ(Message(ProviderKey(gemini, FakeEnv({})).status()),
            "provider gemini has no API key: set GEMINI_API_KEY (or GOOGLE_API_KEY) or "
            "api_key_file in the config");
  // Only these two: mistral's own variable is MISTRAL_API_KEY already.
  EXPECT_FALSE(ProviderKey(c.providers.at("deepseek"), FakeEnv({{"GOOGLE_API_KEY", "g"}})).ok());
  // A config that names api_key_env means that variable only.
  const Config named = Parse("[providers.gemini]\napi_key_env = \"MY_KEY\"\n");
  EXPECT_FALSE(ProviderKey(named.providers.at("gemini"), FakeEnv({{"GOOGLE_API_KEY", "g"}})).ok());

  const ProviderConfig& kimi = c.providers.at("kimi");
  EXPECT_EQ(kimi.api_key_env, "MOONSHOT_API_KEY");
  EXPECT_EQ(kimi.model, "kimi-k2.6");
}

TEST_F(ConfigTest, ProfilesRouteByName) {
  const Config c = BuiltinConfig();
  Step step;
  step.id = "s";
  step.type = "code_generation";
  EXPECT_EQ(*RouteStep(*ApplyProfile(c, ""), step), "deepseek");
  EXPECT_EQ(*RouteStep(*ApplyProfile(c, "fast"), step), "groq");
  EXPECT_EQ(*RouteStep(*ApplyProfile(c, "build"), step), "deepseek");
  EXPECT_EQ(*RouteStep(*ApplyProfile(c, "double-check"), step), "kimi");
  EXPECT_EQ(Message(ApplyProfile(c, "slow").status()),
            "unknown profile \"slow\" (configured: build, double-check, fast)");

  // A profile without `default` overlays [routing]; one in the file replaces
  // a built-in of that name.
  const Config file = Parse(
      "[profiles.cheap.routing]\ncode_generation = \"ollama\"\n"
      "[profiles.fast.routing]\nanalysis = \"openai\"\n");
  const Config cheap = *ApplyProfile(file, "cheap");
  EXPECT_EQ(*RouteStep(cheap, step), "ollama");
  step.type = "analysis";
  EXPECT_EQ(*RouteStep(cheap, step), "gemini");
  const Config fast = *ApplyProfile(file, "fast");
  EXPECT_EQ(*RouteStep(fast, step), "openai");
  step.type = "patch";
  EXPECT_EQ(*RouteStep(fast, step), "codestral");

  EXPECT_CONTAINS(Error("[profiles.x.routing]\ndefault = \"nope\"\n"),
                  "config.toml:2:11: profiles.x.routing.default: unknown provider \"nope\"");
  EXPECT_CONTAINS(Error("[profiles.x]\nrouting2 = {}\n"),
                  "profiles.x.routing2: unknown key");
}

TEST_F(ConfigTest, ProviderKeyFromFile) {
  ProviderConfig p = BuiltinConfig().providers.at("deepseek");
  p.api_key_file = WriteFile("deepseek.key", "sk-from-file\n", 0600);
  absl::StatusOr<std::string> key = ProviderKey(p, FakeEnv({}));
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(*key, "sk-from-file");
  // The environment wins over the file.
  EXPECT_EQ(*ProviderKey(p, FakeEnv({{"DEEPSEEK_API_KEY", "sk-env"}})),
            "sk-env");
  // An empty variable counts as unset.
  EXPECT_EQ(*ProviderKey(p, FakeEnv({{"DEEPSEEK_API_KEY", ""}})),
            "sk-from-file");
}

TEST_F(ConfigTest, ProviderKeyMissingNamesTheVariable) {
  const ProviderConfig p = BuiltinConfig().providers.at("deepseek");
  absl::StatusOr<std::string> key = ProviderKey(p, FakeEnv({}));
  EXPECT_EQ(key.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Message(key.status()),
            "provider deepseek has no API key: set DEEPSEEK_API_KEY or "
            "api_key_file in the config");
}

// Issue 18.9: which steps a submit would refuse for want of a key, named
// with the variable and the config file the daemon reads.
TEST_F(ConfigTest, MissingKeysNameTheStepsTheVariableAndTheConfigFile) {
  Plan plan;
  auto add = [&](const std::string& id, const std::string& provider, bool command) {
    Step step;
    step.id = id;
    step.provider = provider;
    if (command) step.shell = "true";
    plan.steps.push_back(step);
  };
  add("build", "", /*command=*/true);
  add("a", "deepseek", false);
  add("b", "ollama", false);  // needs no key
  add("c", "groq", false);
  add("d", "deepseek", false);
  std::vector<KeyProblem> missing =
      FindMissingKeys(plan, BuiltinConfig(), FakeEnv({{"GROQ_API_KEY", "gsk-1"}}));
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_EQ(missing[0].provider, "deepseek");
  EXPECT_EQ(missing[0].steps, (std::vector<std::string>{"a", "d"}));
  EXPECT_EQ(DescribeKeyProblem(missing[0], "/etc/aetherflow/aetherflowd.toml"),
            "steps a, d (deepseek): provider deepseek has no API key: set "
            "DEEPSEEK_API_KEY or api_key_file in the config (aetherflowd reads keys "
            "from its own environment and from api_key_file in "
            "/etc/aetherflow/aetherflowd.toml: restart it from a shell that has "
            "the key, or name a key file there)");

  KeyProblem many{"groq", {"s1", "s2", "s3", "s4", "s5", "s6", "s7"}, "no key"};
  EXPECT_EQ(DescribeKeyProblem(many, "").rfind(
                "steps s1, s2, s3, s4, s5 and 2 more (groq): no key (aetherflowd reads "
                "keys from its own environment and from api_key_file in its config file:",
                0),
            0u);
  KeyProblem one{"groq", {"s1"}, "no key"};
  EXPECT_EQ(DescribeKeyProblem(one, "").rfind("step s1 (groq): no key (", 0), 0u);
  EXPECT_TRUE(FindMissingKeys(plan, BuiltinConfig(),
                              FakeEnv({{"GROQ_API_KEY", "g"}, {"DEEPSEEK_API_KEY", "d"}}))
                  .empty());
}

TEST_F(ConfigTest, ProviderKeyNeverAppearsInErrors) {
  ProviderConfig p = BuiltinConfig().providers.at("groq");
  // A key with a line break would forge HTTP headers: refused, unquoted.
  absl::StatusOr<std::string> key =
      ProviderKey(p, FakeEnv({{"GROQ_API_KEY", "gsk-SECRET\r\nX-Evil: 1"}}));
  EXPECT_EQ(key.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_CONTAINS(Message(key.status()), "GROQ_API_KEY");
  EXPECT_LACKS(Message(key.status()), "SECRET");
  EXPECT_LACKS(Message(key.status()), "Evil");

  // A key file others can read is refused, without quoting it.
  p.api_key_file = WriteFile("groq.key", "gsk-SECRET\n", 0644);
  key = ProviderKey(p, FakeEnv({}));
  EXPECT_EQ(key.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_CONTAINS(Message(key.status()), "readable by others");
  EXPECT_CONTAINS(Message(key.status()), p.api_key_file);
  EXPECT_CONTAINS(Message(key.status()), "GROQ_API_KEY");
  EXPECT_LACKS(Message(key.status()), "SECRET");

  // A missing file is named.
  p.api_key_file = dir_ + "/missing.key";
  key = ProviderKey(p, FakeEnv({}));
  EXPECT_CONTAINS(Message(key.status()), "missing.key");
}

TEST_F(ConfigTest, ProviderKeyEmptyFile) {
  ProviderConfig p = BuiltinConfig().providers.at("groq");
  p.api_key_file = WriteFile("empty.key", "\n\n", 0600);
  EXPECT_CONTAINS(Message(ProviderKey(p, FakeEnv({})).status()), "is empty");
}

TEST_F(ConfigTest, ProviderWithoutKey) {
  const ProviderConfig p = BuiltinConfig().providers.at("ollama");
  absl::StatusOr<std::string> key = ProviderKey(p, FakeEnv({}));
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(*key, "");
}

TEST_F(ConfigTest, ProviderKeyWithoutVariableName) {
  ProviderConfig p;
  p.name = "mine";
  EXPECT_EQ(Message(ProviderKey(p, FakeEnv({})).status()),
            "provider mine has no API key: set api_key_env or api_key_file "
            "in the config");
}

// ------------------------------------------------------------ resources

TEST_F(ConfigTest, ResourcesAreUnsetByDefault) {
  const Config c = Parse("");
  EXPECT_EQ(c.resources.cpu, std::nullopt);
  EXPECT_EQ(c.resources.mem_bytes, std::nullopt);
  EXPECT_EQ(c.resources.gpu, std::nullopt);
}

TEST_F(ConfigTest, ResourcesSection) {
  Config c = Parse("[resources]\ncpu = 16\nmem = \"64G\"\ngpu = 2\n");
  EXPECT_EQ(c.resources.cpu, 16.0);
  EXPECT_EQ(c.resources.mem_bytes, int64_t{64} << 30);
  EXPECT_EQ(c.resources.gpu, 2);
  c = Parse("[resources]\ncpu = 7.5\nmem = 1073741824\ngpu = 0\n");
  EXPECT_EQ(c.resources.cpu, 7.5);
  EXPECT_EQ(c.resources.mem_bytes, int64_t{1} << 30);
  EXPECT_EQ(c.resources.gpu, 0);  // no GPUs, whatever the machine has
  c = Parse("[resources]\nmem = \"512 MiB\"\n");
  EXPECT_EQ(c.resources.mem_bytes, int64_t{512} << 20);
  EXPECT_EQ(c.resources.cpu, std::nullopt);
}

TEST_F(ConfigTest, BadResourcesNameFileLineAndKey) {
  EXPECT_CONTAINS(Error("[resources]\ngpus = 2\n"),
                  "config.toml:2:1: resources.gpus: unknown key (did you "
                  "mean \"gpu\"?)");
  EXPECT_CONTAINS(Error("[resources]\ncpu = \"16\"\n"),
                  "config.toml:2:7: resources.cpu: expected a number of "
                  "CPUs > 0, got a string");
  EXPECT_CONTAINS(Error("[resources]\ncpu = 0\n"),
                  "config.toml:2:7: resources.cpu: expected a number of "
                  "CPUs > 0 (at most 1000000)");
  EXPECT_CONTAINS(Error("[resources]\nmem = \"64X\"\n"),
                  "config.toml:2:7: resources.mem: expected a size such as");
  EXPECT_CONTAINS(Error("[resources]\nmem = 0\n"),
                  "config.toml:2:7: resources.mem: expected a number of "
                  "bytes > 0, got 0");
  EXPECT_CONTAINS(Error("[resources]\nmem = 1.5\n"),
                  "resources.mem: expected a size such as \"64G\" or a "
                  "number of bytes, got a float");
  EXPECT_CONTAINS(Error("[resources]\ngpu = -1\n"),
                  "config.toml:2:7: resources.gpu: expected a whole number "
                  "of GPUs >= 0 (at most 1024), got -1");
  EXPECT_CONTAINS(Error("[resources]\ngpu = 1.0\n"),
                  "resources.gpu: expected a whole number of GPUs >= 0 (at "
                  "most 1024), got a float");
  EXPECT_CONTAINS(Error("resources = 4\n"),
                  "config.toml:1:13: resources: expected a table");
  EXPECT_CONTAINS(Error("[resource]\ncpu = 4\n"),
                  "resource: unknown key (did you mean \"resources\"?)");
}

TEST(ParseResourceSpecTest, AnySubsetAnyOrder) {
  absl::StatusOr<ResourceCapacity> r = ParseResourceSpec("cpu=16,mem=64G,gpu=2");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->cpu, 16.0);
  EXPECT_EQ(r->mem_bytes, int64_t{64} << 30);
  EXPECT_EQ(r->gpu, 2);
  r = ParseResourceSpec(" gpu = 0 , cpu=0.5 ");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->gpu, 0);
  EXPECT_EQ(r->cpu, 0.5);
  EXPECT_EQ(r->mem_bytes, std::nullopt);
  r = ParseResourceSpec("mem=1.5g");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->mem_bytes, int64_t{3} << 29);
  EXPECT_EQ(r->cpu, std::nullopt);
  EXPECT_EQ(r->gpu, std::nullopt);
}

TEST(ParseResourceSpecTest, BadPartIsNamed) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "empty resources: expected KEY=VALUE entries"},
      {"  ", "empty resources"},
      {"cpu=16,,gpu=2", "empty entry: expected KEY=VALUE"},
      {"cpu=16,gpu", "\"gpu\": expected KEY=VALUE"},
      {"cpu=16,gpus=2", "\"gpus=2\": unknown resource \"gpus\" (cpu, mem, gpu)"},
      {"cpu=16,cpu=8", "\"cpu=8\": cpu given twice"},
      {"gpu=0,gpu=1", "\"gpu=1\": gpu given twice"},
      {"cpu=0", "\"cpu=0\": expected a number of CPUs > 0"},
      {"cpu=many", "\"cpu=many\": expected a number of CPUs > 0"},
      {"cpu=inf", "\"cpu=inf\": expected a number of CPUs > 0"},
      {"mem=64X", "\"mem=64X\": expected a size such as \"8G\""},
      {"mem=", "\"mem=\": expected a size"},
      {"gpu=-1", "\"gpu=-1\": expected a whole number of GPUs >= 0"},
      {"gpu=1.5", "\"gpu=1.5\": expected a whole number of GPUs >= 0"},
      {"gpu=+2", "\"gpu=+2\": expected a whole number of GPUs >= 0"},
      {"gpu=2000", "\"gpu=2000\": expected a whole number of GPUs >= 0"},
  };
  for (const auto& [spec, expected] : cases) {
    absl::StatusOr<ResourceCapacity> r = ParseResourceSpec(spec);
    ASSERT_FALSE(r.ok()) << spec;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << spec;
    EXPECT_CONTAINS(Message(r.status()), expected);
  }
}

}  // namespace
}  // namespace aetherflow
