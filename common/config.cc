#include "common/config.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/byte_size.h"
#include "common/checkin.h"
#include "common/duration.h"
#include "common/text.h"

namespace aetherflow {
namespace {

// Debian's Abseil has its own string_view, distinct from std::string_view.
absl::string_view AbslView(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

ProviderConfig MakeProvider(std::string name, std::string base_url,
                            std::string model, std::string api_key_env,
                            std::optional<double> price_input,
                            std::optional<double> price_cached_input,
                            std::optional<double> price_output,
                            int max_concurrency, bool needs_key = true) {
  ProviderConfig p;
  p.name = std::move(name);
  p.base_url = std::move(base_url);
  p.model = std::move(model);
  p.api_key_env = std::move(api_key_env);
  p.price_input = price_input;
  p.price_cached_input = price_cached_input;
  p.price_output = price_output;
  p.max_concurrency = max_concurrency;
  p.needs_key = needs_key;
  return p;
}

bool IsProviderName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

bool IsEnvName(std::string_view name) {
  if (name.empty() || absl::ascii_isdigit(name[0])) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return absl::ascii_isalnum(c) || c == '_'; });
}

bool HasControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
}

// "my-llm" -> "MY_LLM_API_KEY".
std::string DefaultKeyEnv(std::string_view name) {
  std::string env;
  for (char c : name) env += c == '-' ? '_' : absl::ascii_toupper(c);
  return env + "_API_KEY";
}

// `s` for a message: one line, at most 100 bytes.
std::string Printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 100)) {
    out += static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c;
  }
  if (s.size() > 100) out += "...";
  return out;
}

// A key as it appears in a message: bare when TOML would accept it bare,
// else quoted.
std::string KeyText(std::string_view key) {
  const bool bare =
      !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
        return absl::ascii_isalnum(c) || c == '_' || c == '-';
      });
  if (bare) return std::string(key);
  std::string out = "\"";
  for (char c : key) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      out += '?';  // keep the message on one line
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string_view TypeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    default:
      return "nothing";
  }
}

std::string UnknownKey(std::string_view key,
                       const std::vector<std::string_view>& known) {
  // Suggest only close misspellings.
  const std::string_view best = ClosestMatch(key, known, /*max_distance=*/2);
  if (best.empty()) {
    return absl::StrCat("unknown key (expected one of: ",
                        absl::StrJoin(known, ", ",
                                      [](std::string* out, std::string_view k) {
                                        out->append(k.data(), k.size());
                                      }),
                        ")");
  }
  return absl::StrCat("unknown key (did you mean \"", AbslView(best), "\"?)");
}

struct Problem {
  uint32_t line;
  uint32_t column;
  std::string text;
};

// Walks the parsed document, applying what it names to a Config and
// collecting every problem.
class ConfigReader {
 public:
  explicit ConfigReader(std::string_view filename) : filename_(filename) {}

  absl::StatusOr<Config> Read(const toml::table& root) {
    Config config = BuiltinConfig();
    config.source = filename_;
    const toml::node* daemon = nullptr;
    const toml::node* providers = nullptr;
    const toml::node* routing = nullptr;
    const toml::node* checkin = nullptr;
    const toml::node* resources = nullptr;
    const toml::node* profiles = nullptr;
    for (auto&& [key, node] : root) {
      const std::string_view k = key.str();
      if (k == "daemon") {
        daemon = &node;
      } else if (k == "providers") {
        providers = &node;
      } else if (k == "routing") {
        routing = &node;
      } else if (k == "checkin") {
        checkin = &node;
      } else if (k == "resources") {
        resources = &node;
      } else if (k == "profiles") {
        profiles = &node;
      } else {
        Add(key.source(), KeyText(k),
            UnknownKey(k, {"daemon", "providers", "routing", "checkin",
                           "resources", "profiles"}));
      }
    }
    if (daemon != nullptr) ReadDaemon(*daemon, config);
    // Providers before routing, which must name one of them.
    if (providers != nullptr) ReadProviders(*providers, config);
    if (routing != nullptr) ReadRouting(*routing, config);
    if (profiles != nullptr) ReadProfiles(*profiles, config);
    if (checkin != nullptr) ReadCheckin(*checkin, config);
    if (resources != nullptr) ReadResources(*resources, config);
    if (!problems_.empty()) return Failure();
    return config;
  }

  absl::Status SyntaxError(const toml::source_region& where,
                           std::string_view description) {
    problems_.push_back({std::max<uint32_t>(where.begin.line, 1),
                         std::max<uint32_t>(where.begin.column, 1),
                         std::string(description)});
    return Failure();
  }

 private:
  void Add(const toml::source_region& where, const std::string& path,
           std::string_view problem) {
    problems_.push_back({std::max<uint32_t>(where.begin.line, 1),
                         std::max<uint32_t>(where.begin.column, 1),
                         absl::StrCat(path, ": ", AbslView(problem))});
  }

  void WrongType(const toml::node& node, const std::string& path,
                 std::string_view expected) {
    Add(node.source(), path,
        absl::StrCat("expected ", AbslView(expected), ", got ",
                     AbslView(TypeName(node))));
  }

  absl::Status Failure() {
    std::stable_sort(problems_.begin(), problems_.end(),
                     [](const Problem& a, const Problem& b) {
                       return std::tie(a.line, a.column) <
                              std::tie(b.line, b.column);
                     });
    std::vector<std::string> lines;
    lines.reserve(problems_.size());
    for (const Problem& p : problems_) {
      lines.push_back(
          absl::StrCat(filename_, ":", p.line, ":", p.column, ": ", p.text));
    }
    return absl::InvalidArgumentError(absl::StrJoin(lines, "\n"));
  }

  // The table at `node`, or nullptr after reporting it.
  const toml::table* Table(const toml::node& node, const std::string& path) {
    const toml::table* table = node.as_table();
    if (table == nullptr) WrongType(node, path, "a table");
    return table;
  }

  std::optional<int64_t> Integer(const toml::node& node,
                                 const std::string& path, int64_t min,
                                 int64_t max, std::string_view expected) {
    const auto* i = node.as_integer();
    if (i == nullptr) {
      WrongType(node, path, expected);
      return std::nullopt;
    }
    if (i->get() < min || i->get() > max) {
      Add(node.source(), path,
          absl::StrCat("expected ", AbslView(expected), ", got ", i->get()));
      return std::nullopt;
    }
    return i->get();
  }

  std::optional<std::string> String(const toml::node& node,
                                    const std::string& path) {
    const auto* s = node.as_string();
    if (s == nullptr) {
      WrongType(node, path, "a string");
      return std::nullopt;
    }
    if (HasControl(s->get())) {
      Add(node.source(), path, "control characters are not allowed");
      return std::nullopt;
    }
    return s->get();
  }

  void ReadDaemon(const toml::node& node, Config& config) {
    const toml::table* table = Table(node, "daemon");
    if (table == nullptr) return;
    for (auto&& [key, value] : *table) {
      const std::string_view k = key.str();
      const std::string path = absl::StrCat("daemon.", KeyText(k));
      if (k == "max_parallel") {
        if (auto n = Integer(value, path, 1, 1'000'000, "an integer > 0")) {
          config.max_parallel = static_cast<int>(*n);
        }
      } else {
        Add(key.source(), path, UnknownKey(k, {"max_parallel"}));
      }
    }
  }

  void ReadProviders(const toml::node& node, Config& config) {
    const toml::table* table = Table(node, "providers");
    if (table == nullptr) return;
    for (auto&& [key, value] : *table) {
      const std::string_view name = key.str();
      const std::string path = absl::StrCat("providers.", KeyText(name));
      if (!IsProviderName(name)) {
        Add(key.source(), path,
            "invalid provider name (use 1 to 64 of a-z, 0-9, '_', '-')");
        continue;
      }
      const toml::table* fields = Table(value, path);
      if (fields == nullptr) continue;
      auto it = config.providers.find(std::string(name));
      const bool is_new = it == config.providers.end();
      ProviderConfig provider;
      if (is_new) {
        provider.name = std::string(name);
        provider.api_key_env = DefaultKeyEnv(name);
      } else {
        provider = it->second;
      }
      ReadProvider(*fields, path, provider);
      if (is_new) {
        for (const char* required : {"base_url", "model"}) {
          if (!fields->contains(required)) {
            Add(value.source(), path,
                absl::StrCat("missing ", required,
                             " (a provider that is not built in needs "
                             "base_url and model)"));
          }
        }
      }
      config.providers[provider.name] = std::move(provider);
    }
  }

  void ReadProvider(const toml::table& fields, const std::string& prefix,
                    ProviderConfig& p) {
    static const std::vector<std::string_view> kKnown = {
        "base_url",     "model",           "api_key_env",
        "api_key_file", "price_input",     "price_cached_input",
        "price_output", "max_concurrency", "timeout",
        "needs_key"};
    for (auto&& [key, value] : fields) {
      const std::string_view k = key.str();
      const std::string path = absl::StrCat(prefix, ".", KeyText(k));
      if (k == "base_url") {
        if (auto s = String(value, path)) {
          std::string url = *s;
          while (url.size() > 1 && url.back() == '/') url.pop_back();
          const size_t scheme_end = url.find("://");
          const std::string scheme = url.substr(0, scheme_end);
          const bool http = scheme_end != std::string::npos &&
                            (scheme == "http" || scheme == "https") &&
                            url.size() > scheme_end + 3 &&
                            url[scheme_end + 3] != '/';
          if (!http || url.find_first_of(" \t") != std::string::npos) {
            Add(value.source(), path,
                "expected an http:// or https:// URL without spaces");
          } else {
            p.base_url = std::move(url);
          }
        }
      } else if (k == "model") {
        if (auto s = String(value, path)) {
          if (s->empty()) {
            Add(value.source(), path, "empty model name");
          } else {
            p.model = std::move(*s);
          }
        }
      } else if (k == "api_key_env") {
        if (auto s = String(value, path)) {
          if (!s->empty() && !IsEnvName(*s)) {
            Add(value.source(), path,
                "expected an environment variable name (letters, digits, "
                "'_')");
          } else {
            p.api_key_env = std::move(*s);
            p.api_key_env_alt.clear();  // the file names the one variable
          }
        }
      } else if (k == "api_key_file") {
        if (auto s = String(value, path)) p.api_key_file = ResolvePath(*s);
      } else if (k == "price_input" || k == "price_cached_input" ||
                 k == "price_output") {
        std::optional<double> price;
        if (const auto* i = value.as_integer()) {
          price = static_cast<double>(i->get());
        } else if (const auto* f = value.as_floating_point()) {
          price = f->get();
        } else {
          WrongType(value, path, "a number");
          continue;
        }
        if (!std::isfinite(*price) || *price < 0) {
          Add(value.source(), path,
              "expected a number >= 0 (USD per million tokens)");
          continue;
        }
        (k == "price_input"          ? p.price_input
         : k == "price_cached_input" ? p.price_cached_input
                                     : p.price_output) = price;
      } else if (k == "max_concurrency") {
        if (auto n = Integer(value, path, 1, 1'000'000, "an integer >= 1")) {
          p.max_concurrency = static_cast<int>(*n);
        }
      } else if (k == "timeout") {
        ReadTimeout(value, path, p);
      } else if (k == "needs_key") {
        if (const auto* b = value.as_boolean()) {
          p.needs_key = b->get();
        } else {
          WrongType(value, path, "true or false");
        }
      } else {
        Add(key.source(), path, UnknownKey(k, kKnown));
      }
    }
  }

  void ReadTimeout(const toml::node& value, const std::string& path,
                   ProviderConfig& p) {
    constexpr std::string_view kExpected =
        "a duration (\"120s\", \"5m\") or a number of seconds > 0";
    std::optional<int64_t> ms;
    if (const auto* s = value.as_string()) {
      absl::StatusOr<int64_t> parsed = ParseDurationMs(s->get());
      if (!parsed.ok()) {
        Add(value.source(), path, std::string(parsed.status().message()));
        return;
      }
      ms = *parsed;
    } else if (const auto* i = value.as_integer()) {
      if (i->get() > 0 && i->get() <= INT64_MAX / 1000) ms = i->get() * 1000;
    } else if (const auto* f = value.as_floating_point()) {
      // 1e12 s is over 30,000 years: anything above is a typo.
      if (std::isfinite(f->get()) && f->get() > 0 && f->get() < 1e12) {
        ms = static_cast<int64_t>(std::llround(f->get() * 1000));
      }
    } else {
      WrongType(value, path, kExpected);
      return;
    }
    if (!ms.has_value() || *ms <= 0) {
      Add(value.source(), path, absl::StrCat("expected ", AbslView(kExpected)));
      return;
    }
    p.timeout_ms = *ms;
  }

  // [profiles.NAME.routing] TYPE = "provider".
  void ReadProfiles(const toml::node& node, Config& config) {
    const toml::table* table = Table(node, "profiles");
    if (table == nullptr) return;
    for (auto&& [key, value] : *table) {
      const std::string_view name = key.str();
      const std::string path = absl::StrCat("profiles.", KeyText(name));
      if (!IsProviderName(name)) {
        Add(key.source(), path,
            "invalid profile name (use 1 to 64 of a-z, 0-9, '_', '-')");
        continue;
      }
      const toml::table* fields = Table(value, path);
      if (fields == nullptr) continue;
      std::map<std::string, std::string>& routing = config.profiles[std::string(name)];
      for (auto&& [field, entry] : *fields) {
        if (field.str() != "routing") {
          Add(field.source(), absl::StrCat(path, ".", KeyText(field.str())),
              UnknownKey(field.str(), {"routing"}));
          continue;
        }
        // A profile given in the file replaces a built-in one of that name.
        routing.clear();
        ReadRouting(entry, config, absl::StrCat(path, ".routing"), routing);
      }
    }
  }

  void ReadRouting(const toml::node& node, Config& config) {
    ReadRouting(node, config, "routing", config.routing);
  }

  void ReadRouting(const toml::node& node, const Config& config,
                   const std::string& prefix,
                   std::map<std::string, std::string>& routing) {
    const toml::table* table = Table(node, prefix);
    if (table == nullptr) return;
    for (auto&& [key, value] : *table) {
      const std::string path = absl::StrCat(prefix, ".", KeyText(key.str()));
      auto name = String(value, path);
      if (!name.has_value()) continue;
      if (config.providers.count(*name) == 0) {
        std::vector<std::string> known;
        for (const auto& [n, p] : config.providers) known.push_back(n);
        Add(value.source(), path,
            absl::StrCat("unknown provider \"", Printable(*name),
                         "\" (configured: ", absl::StrJoin(known, ", "), ")"));
        continue;
      }
      routing[std::string(key.str())] = std::move(*name);
    }
  }

  void ReadCheckin(const toml::node& node, Config& config) {
    const toml::table* table = Table(node, "checkin");
    if (table == nullptr) return;
    for (auto&& [key, value] : *table) {
      const std::string_view k = key.str();
      const std::string path = absl::StrCat("checkin.", KeyText(k));
      if (k != "schedule") {
        Add(key.source(), path, UnknownKey(k, {"schedule"}));
        continue;
      }
      constexpr std::string_view kExpected =
          "[\"30s\", \"90s\", \"300s\"] or \"30s,90s,300s\"";
      std::string text;
      if (const auto* s = value.as_string()) {
        text = s->get();
      } else if (const auto* array = value.as_array()) {
        bool ok = true;
        for (const toml::node& entry : *array) {
          std::string item;
          if (const auto* s = entry.as_string()) {
            item = s->get();
          } else if (const auto* i = entry.as_integer()) {
            item = absl::StrCat(i->get());  // seconds; negatives refused below
          } else {
            WrongType(entry, path, "a duration such as \"30s\"");
            ok = false;
            continue;
          }
          // A comma inside one entry would silently make two.
          if (item.find(',') != std::string::npos) {
            Add(entry.source(), path, "one duration per entry");
            ok = false;
          }
          absl::StrAppend(&text, text.empty() ? "" : ",", item);
        }
        if (!ok) continue;
      } else {
        WrongType(value, path, kExpected);
        continue;
      }
      absl::StatusOr<std::vector<int64_t>> schedule = ParseSchedule(text);
      if (!schedule.ok()) {
        Add(value.source(), path, std::string(schedule.status().message()));
        continue;
      }
      config.checkin_schedule = *std::move(schedule);
    }
  }

  // [resources] cpu = 16, mem = "64G", gpu = 2 (SPEC §9).
  void ReadResources(const toml::node& node, Config& config) {
    const toml::table* table = Table(node, "resources");
    if (table == nullptr) return;
    ResourceCapacity& r = config.resources;
    for (auto&& [key, value] : *table) {
      const std::string_view k = key.str();
      const std::string path = absl::StrCat("resources.", KeyText(k));
      if (k == "cpu") {
        constexpr std::string_view kExpected = "a number of CPUs > 0";
        std::optional<double> cpu;
        if (const auto* i = value.as_integer()) {
          cpu = static_cast<double>(i->get());
        } else if (const auto* f = value.as_floating_point()) {
          cpu = f->get();
        } else {
          WrongType(value, path, kExpected);
          continue;
        }
        if (!std::isfinite(*cpu) || *cpu <= 0 || *cpu > kMaxCpus) {
          Add(value.source(), path,
              absl::StrCat("expected ", AbslView(kExpected), " (at most ",
                           kMaxCpus, ")"));
          continue;
        }
        r.cpu = cpu;
      } else if (k == "mem") {
        if (const auto* s = value.as_string()) {
          absl::StatusOr<int64_t> bytes = ParseByteSize(s->get());
          if (bytes.ok()) {
            r.mem_bytes = *bytes;
          } else {
            Add(value.source(), path, std::string(bytes.status().message()));
          }
        } else if (value.as_integer() != nullptr) {
          if (auto n = Integer(value, path, 1, kMaxByteSize,
                               "a number of bytes > 0")) {
            r.mem_bytes = *n;
          }
        } else {
          WrongType(value, path, "a size such as \"64G\" or a number of bytes");
        }
      } else if (k == "gpu") {
        if (auto n = Integer(value, path, 0, kMaxGpus,
                             absl::StrCat("a whole number of GPUs >= 0 (at most ",
                                          kMaxGpus, ")"))) {
          r.gpu = static_cast<int>(*n);
        }
      } else {
        Add(key.source(), path, UnknownKey(k, {"cpu", "mem", "gpu"}));
      }
    }
  }

  // A relative api_key_file is taken relative to the config file's folder,
  // so that a key can sit next to the config whatever the daemon's cwd.
  std::string ResolvePath(const std::string& file) const {
    if (file.empty() || file[0] == '/') return file;
    const size_t slash = filename_.rfind('/');
    if (slash == std::string::npos) return file;
    return filename_.substr(0, slash + 1) + file;
  }

  std::string filename_;
  std::vector<Problem> problems_;
};

std::string TrimCopy(std::string_view s) {
  return std::string(absl::StripAsciiWhitespace(AbslView(s)));
}

// True when every byte may go into an HTTP header as a bearer token.
bool IsHeaderSafe(std::string_view key) {
  return std::none_of(key.begin(), key.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f;
  });
}

}  // namespace

absl::StatusOr<ResourceCapacity> ParseResourceSpec(std::string_view spec) {
  constexpr std::string_view kForm =
      "expected KEY=VALUE entries such as cpu=16,mem=64G,gpu=2";
  if (absl::StripAsciiWhitespace(AbslView(spec)).empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("empty resources: ", AbslView(kForm)));
  }
  ResourceCapacity r;
  for (absl::string_view raw : absl::StrSplit(AbslView(spec), ',')) {
    const std::string part = TrimCopy(std::string_view(raw.data(), raw.size()));
    const std::string shown = Printable(part);
    const size_t eq = part.find('=');
    if (eq == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          part.empty() ? "empty entry" : absl::StrCat("\"", shown, "\""), ": ",
          AbslView(kForm)));
    }
    const std::string key = TrimCopy(std::string_view(part).substr(0, eq));
    const std::string value = TrimCopy(std::string_view(part).substr(eq + 1));
    auto bad = [&](std::string_view why) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", shown, "\": ", AbslView(why)));
    };
    const bool seen = (key == "cpu" && r.cpu) ||
                      (key == "mem" && r.mem_bytes) || (key == "gpu" && r.gpu);
    if (seen) return bad(absl::StrCat(key, " given twice"));
    if (key == "cpu") {
      double cpu = 0;
      if (!absl::SimpleAtod(value, &cpu) || !std::isfinite(cpu) || cpu <= 0 ||
          cpu > kMaxCpus) {
        return bad(absl::StrCat("expected a number of CPUs > 0 (at most ",
                                kMaxCpus, ")"));
      }
      r.cpu = cpu;
    } else if (key == "mem") {
      absl::StatusOr<int64_t> bytes = ParseByteSize(value);
      if (!bytes.ok()) return bad(std::string(bytes.status().message()));
      r.mem_bytes = *bytes;
    } else if (key == "gpu") {
      int gpu = 0;
      if (!absl::SimpleAtoi(value, &gpu) || gpu < 0 || gpu > kMaxGpus ||
          value.find_first_not_of("0123456789") != std::string::npos) {
        return bad(absl::StrCat("expected a whole number of GPUs >= 0 (at most ",
                                kMaxGpus, ")"));
      }
      r.gpu = gpu;
    } else {
      return bad(absl::StrCat("unknown resource \"", Printable(key),
                              "\" (cpu, mem, gpu)"));
    }
  }
  return r;
}

Config BuiltinConfig() {
  Config config;
  for (ProviderConfig& p : std::vector<ProviderConfig>{
           MakeProvider("deepseek", "https://api.deepseek.com/v1",
                        "deepseek-chat", "DEEPSEEK_API_KEY", 0.27, 0.07, 1.10,
                        5),
           MakeProvider("groq", "https://api.groq.com/openai/v1",
                        "llama-3.3-70b-versatile", "GROQ_API_KEY", 0.59,
                        std::nullopt, 0.79, 10),
           MakeProvider("gemini",
                        "https://generativelanguage.googleapis.com/v1beta/"
                        "openai",
                        "gemini-2.0-flash", "GEMINI_API_KEY", 0.10,
                        std::nullopt, 0.40, 10),
           MakeProvider("mistral", "https://api.mistral.ai/v1",
                        "mistral-large-latest", "MISTRAL_API_KEY", 2.0,
                        std::nullopt, 6.0, 5),
           MakeProvider("codestral", "https://codestral.mistral.ai/v1",
                        "codestral-latest", "CODESTRAL_API_KEY", 0.3,
                        std::nullopt, 0.9, 5),
           MakeProvider("openai", "https://api.openai.com/v1", "gpt-4o-mini",
                        "OPENAI_API_KEY", 0.15, 0.075, 0.60, 5),
           // Moonshot's OpenAI-compatible API; prices unknown (they vary
           // by model and change): set price_* to know costs.
           MakeProvider("kimi", "https://api.moonshot.ai/v1", "kimi-k2.6",
                        "MOONSHOT_API_KEY", std::nullopt, std::nullopt,
                        std::nullopt, 5),
           MakeProvider("ollama", "http://localhost:11434/v1", "llama3.1", "",
                        0.0, 0.0, 0.0, 2, /*needs_key=*/false),
       }) {
    config.providers[p.name] = std::move(p);
  }
  // The original tool's names for these keys.
  config.providers["gemini"].api_key_env_alt = "GOOGLE_API_KEY";
  config.providers["codestral"].api_key_env_alt = "MISTRAL_API_KEY";
  config.routing = {{"analysis", "gemini"},
                    {"code_generation", "deepseek"},
                    {"refactoring", "deepseek"},
                    {"patch", "codestral"},
                    {"default", "deepseek"}};
  // The original tool's modes: cheap and quick; the default; a stronger model.
  config.profiles["fast"] = {{"default", "groq"}};
  config.profiles["build"] = config.routing;
  config.profiles["double-check"] = {{"default", "kimi"}};
  config.checkin_schedule = {30000, 90000, 300000};
  config.source = "built-in";
  return config;
}

absl::StatusOr<Config> ParseConfig(std::string_view toml_text,
                                   std::string_view filename) {
  ConfigReader reader(filename);
  try {
#if TOML_EXCEPTIONS
    toml::table root = toml::parse(toml_text, filename);
#else
    toml::parse_result parsed = toml::parse(toml_text, filename);
    if (!parsed) {
      return reader.SyntaxError(parsed.error().source(),
                                parsed.error().description());
    }
    toml::table root = std::move(parsed).table();
#endif
    return reader.Read(root);
#if TOML_EXCEPTIONS
  } catch (const toml::parse_error& e) {
    return reader.SyntaxError(e.source(), e.description());
#endif
  } catch (const std::exception& e) {
    // toml++ may throw std::bad_alloc and the like; nothing may escape.
    return absl::InternalError(
        absl::StrCat(AbslView(filename), ": cannot parse: ", e.what()));
  }
}

absl::StatusOr<Config> LoadConfigFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    const int err = errno;
    return absl::ErrnoToStatus(err, absl::StrCat("cannot open ", path));
  }
  std::string text;
  struct stat st;
  absl::Status status;
  if (::fstat(fd, &st) != 0) {
    status = absl::ErrnoToStatus(errno, absl::StrCat("cannot stat ", path));
  } else if (!S_ISREG(st.st_mode)) {
    status =
        absl::InvalidArgumentError(absl::StrCat(path, ": not a regular file"));
  } else {
    char buffer[65536];
    while (true) {
      const ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        status = absl::ErrnoToStatus(errno, absl::StrCat("cannot read ", path));
        break;
      }
      if (n == 0) break;
      text.append(buffer, static_cast<size_t>(n));
      if (text.size() > kMaxConfigBytes) {
        status = absl::InvalidArgumentError(
            absl::StrCat(path, ": larger than ", kMaxConfigBytes, " bytes"));
        break;
      }
    }
  }
  ::close(fd);
  if (!status.ok()) return status;
  return ParseConfig(text, path);
}

std::string DefaultConfigPath(bool system) {
  if (system) return "/etc/aetherflow/aetherflowd.toml";
  // The XDG spec says relative values are to be ignored.
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  if (xdg != nullptr && xdg[0] == '/') {
    return std::string(xdg) + "/aetherflow/config.toml";
  }
  std::string home;
  if (const char* h = std::getenv("HOME"); h != nullptr && h[0] != '\0') {
    home = h;
  } else if (const passwd* pw = getpwuid(getuid())) {
    home = pw->pw_dir;
  } else {
    home = "/tmp";
  }
  return home + "/.config/aetherflow/config.toml";
}

absl::StatusOr<Config> ApplyProfile(Config config, std::string_view name) {
  if (name.empty()) return config;
  auto it = config.profiles.find(std::string(name));
  if (it == config.profiles.end()) {
    std::vector<std::string> known;
    for (const auto& [n, p] : config.profiles) known.push_back(n);
    return absl::InvalidArgumentError(
        absl::StrCat("unknown profile \"", Printable(name),
                     "\" (configured: ", absl::StrJoin(known, ", "), ")"));
  }
  const std::map<std::string, std::string>& profile = it->second;
  if (profile.count("default") != 0) {
    config.routing = profile;
  } else {
    for (const auto& [type, provider] : profile) config.routing[type] = provider;
  }
  return config;
}

absl::StatusOr<std::string> RouteStep(const Config& config, const Step& step) {
  if (step.is_command()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "step \"", step.id, "\" runs a command: it has no LLM provider"));
  }
  std::string name = step.provider;
  if (name.empty()) {
    auto it = step.type.empty() ? config.routing.end()
                                : config.routing.find(step.type);
    if (it == config.routing.end()) it = config.routing.find("default");
    if (it == config.routing.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "no provider for step type \"", step.type,
          "\": set the step's `provider` or [routing] default in the config"));
    }
    name = it->second;
  }
  if (config.providers.count(name) == 0) {
    std::vector<std::string> known;
    for (const auto& [n, p] : config.providers) known.push_back(n);
    return absl::InvalidArgumentError(
        absl::StrCat("unknown provider \"", Printable(name),
                     "\" (configured: ", absl::StrJoin(known, ", "), ")"));
  }
  return name;
}

absl::StatusOr<std::string> ProviderKey(const ProviderConfig& provider,
                                        const GetenvFn& getenv) {
  if (!provider.needs_key) return std::string();
  const std::string& env = provider.api_key_env;
  // Messages name the provider, the variable and the file, never the key.
  auto unsafe = [&](std::string_view where) {
    return absl::FailedPreconditionError(absl::StrCat(
        "provider ", provider.name, ": the API key in ", AbslView(where),
        " contains spaces or control characters"));
  };
  for (const std::string* name : {&env, &provider.api_key_env_alt}) {
    if (name->empty() || !getenv) continue;
    if (std::optional<std::string> value = getenv(*name)) {
      std::string key = TrimCopy(*value);
      if (!key.empty()) {
        if (!IsHeaderSafe(key)) return unsafe(*name);
        return key;
      }
    }
  }
  const std::string alt =
      provider.api_key_env_alt.empty() || env.empty()
          ? ""
          : absl::StrCat(" (or ", provider.api_key_env_alt, ")");
  const std::string or_env =
      env.empty() ? "" : absl::StrCat(" (or set ", env, alt, ")");
  if (!provider.api_key_file.empty()) {
    const std::string& file = provider.api_key_file;
    // O_NONBLOCK: a FIFO must not hang the daemon; it is refused below.
    const int fd =
        ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
      const int err = errno;
      return absl::FailedPreconditionError(absl::StrCat(
          "provider ", provider.name, ": cannot read api_key_file ", file, ": ",
          std::strerror(err), or_env));
    }
    std::string text;
    std::string problem;
    struct stat st;
    constexpr size_t kMaxKeyFileBytes = 64 * 1024;
    if (::fstat(fd, &st) != 0) {
      problem = std::strerror(errno);
    } else if (!S_ISREG(st.st_mode)) {
      problem = "not a regular file";
    } else if ((st.st_mode & S_IROTH) != 0) {
      problem =
          absl::StrCat("readable by others (run: chmod o-rwx ", file, ")");
    } else if (static_cast<uint64_t>(st.st_size) > kMaxKeyFileBytes) {
      problem = "larger than 64 KiB";
    } else {
      char buffer[4096];
      while (text.size() <= kMaxKeyFileBytes) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
          problem = std::strerror(errno);
          break;
        }
        if (n == 0) break;
        text.append(buffer, static_cast<size_t>(n));
      }
    }
    ::close(fd);
    if (!problem.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("provider ", provider.name, ": cannot use api_key_file ",
                       file, ": ", problem, or_env));
    }
    std::string key = TrimCopy(text);
    std::fill(text.begin(), text.end(), '\0');
    if (key.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("provider ", provider.name, ": api_key_file ", file,
                       " is empty", or_env));
    }
    if (!IsHeaderSafe(key)) return unsafe(absl::StrCat("api_key_file ", file));
    return key;
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "provider ", provider.name, " has no API key: set ",
      env.empty() ? "api_key_env" : env, alt, " or api_key_file in the config"));
}

std::vector<KeyProblem> FindMissingKeys(const Plan& plan, const Config& config,
                                        const GetenvFn& getenv) {
  std::vector<KeyProblem> problems;
  std::map<std::string, std::optional<size_t>> checked;  // provider -> problem
  for (const Step& step : plan.steps) {
    if (step.is_command()) continue;
    absl::StatusOr<std::string> provider = RouteStep(config, step);
    if (!provider.ok()) continue;
    auto [it, first] = checked.emplace(*provider, std::nullopt);
    if (first) {
      absl::StatusOr<std::string> key = ProviderKey(config.providers.at(*provider), getenv);
      if (key.ok()) continue;
      it->second = problems.size();
      problems.push_back({*provider, {}, std::string(key.status().message())});
    }
    if (it->second) problems[*it->second].steps.push_back(step.id);
  }
  return problems;
}

std::string DescribeKeyProblem(const KeyProblem& problem, std::string_view config_path) {
  constexpr size_t kShown = 5;
  const std::vector<std::string>& ids = problem.steps;
  std::string steps = absl::StrJoin(ids.begin(), ids.begin() + std::min(ids.size(), kShown), ", ");
  if (ids.size() > kShown) absl::StrAppend(&steps, " and ", ids.size() - kShown, " more");
  // The key must be in the daemon's environment, not only the shell's: an
  // autostarted daemon keeps the environment it had.
  return absl::StrCat(
      ids.size() == 1 ? "step " : "steps ", steps, " (", problem.provider, "): ", problem.why,
      " (aetherflowd reads keys from its own environment and from api_key_file in ",
      config_path.empty() ? std::string("its config file") : std::string(config_path),
      ": restart it from a shell that has the key, or name a key file there)");
}

}  // namespace aetherflow
