// What is written from the CLI11 definition of a command line, so that no
// second list of commands and options has to be kept in step: shell
// completions (bash, zsh, fish) and the OPTIONS and COMMANDS sections of the
// man pages (markdown, for pandoc).
#ifndef AETHERFLOW_CLIENT_CLI_DOC_H_
#define AETHERFLOW_CLIENT_CLI_DOC_H_

#include <string>

#include "CLI/CLI.hpp"

namespace aetherflow {

// The completion script of `app` for `shell` ("bash", "zsh" or "fish"), ""
// for another shell. Positionals named plan complete *.json files; run and
// runs, run ids (`aetherflow ls --ids`); step, the run's step ids
// (`aetherflow status RUN --ids`); options whose value is a path, files.
std::string CompletionScript(const CLI::App& app, const std::string& shell);

// Markdown: "# OPTIONS" (the options of `app` itself) and, when it has
// commands, "# COMMANDS" (each with its arguments and options). Hidden
// options and commands (group "") are left out.
std::string ManualSections(const CLI::App& app);

}  // namespace aetherflow

#endif  // AETHERFLOW_CLIENT_CLI_DOC_H_
