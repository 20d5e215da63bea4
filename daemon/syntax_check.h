// Built-in syntax checks of files an LLM step changed (SPEC §11), chosen by
// the file's type:
//   .py                    python3: compile() (no .pyc written anywhere)
//   .json                  nlohmann::json (comments allowed, as in tsconfig)
//   .toml                  toml++
//   .yaml .yml             python3 with PyYAML (python3-yaml), composing
//                          every document (unknown tags are fine)
//   .sh .bash, or a shell  bash -n when the shebang or extension says bash,
//   shebang                sh -n otherwise
//   .js .cjs .mjs          node --check, when `node` is on PATH
// Other files, and types whose tool is missing, are not checked. The text
// is given on the checker's standard input (a memfd), so a checker never
// reads or writes the project; it runs with the caller's identity, the
// PATH of the daemon, and a timeout. Thread-safe.
#ifndef AETHERFLOW_DAEMON_SYNTAX_CHECK_H_
#define AETHERFLOW_DAEMON_SYNTAX_CHECK_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace aetherflow {

struct SyntaxCheckOptions {
  int64_t timeout_ms = 10'000;
  std::size_t max_output_bytes = 4096;
};

struct SyntaxCheckResult {
  // What checked: "python3", "json", "toml", "yaml", "sh", "bash", "node";
  // empty when nothing could (then ok).
  std::string checker;
  bool ok = true;
  // When !ok: one line naming the file and the first problem, e.g.
  // "src/api.py: python3: line 3: invalid syntax".
  std::string reason;
  // When !ok: the checker's output, at most max_output_bytes (the head,
  // where the first error is), with the file's name for "<stdin>".
  std::string output;
};

// The checker CheckSyntax would use for `path` (and `content`, for a
// shebang), or "" when none is known or available.
std::string SyntaxCheckerFor(std::string_view path, std::string_view content);

// Checks `content` as the file `path` (project-relative, for the type and
// the messages). A checker that cannot be started, or times out, is a
// failure with that reason.
SyntaxCheckResult CheckSyntax(std::string_view path, std::string_view content,
                              const SyntaxCheckOptions& options = {});

}  // namespace aetherflow

#endif  // AETHERFLOW_DAEMON_SYNTAX_CHECK_H_
