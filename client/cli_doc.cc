#include "client/cli_doc.h"

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace aetherflow {
namespace {

// What an option's value, or a positional, completes to.
enum class Kind { kFlag, kWord, kFile, kPlan, kRun, kStep, kShell };

Kind KindOf(const CLI::Option* option) {
  if (option->get_positional() && !option->nonpositional()) {
    const std::string& name = option->get_name();
    if (name == "plan") return Kind::kPlan;
    if (name == "run" || name == "runs") return Kind::kRun;
    if (name == "step") return Kind::kStep;
    if (name == "shell") return Kind::kShell;
    return Kind::kWord;
  }
  if (option->get_expected_max() == 0) return Kind::kFlag;
  for (const std::string& name : option->get_lnames()) {
    for (const char* path : {"socket", "tls-ca", "token-file", "config", "output"}) {
      if (name == path) return Kind::kFile;
    }
  }
  return Kind::kWord;
}

// The program's name: CLI11 takes it from argv[0], which may be a path.
std::string ProgramName(const CLI::App& app) {
  const std::string& name = app.get_name();
  return name.substr(name.rfind('/') + 1);
}

bool Hidden(const CLI::Option* option) { return option->get_group().empty(); }

std::vector<const CLI::App*> Commands(const CLI::App& app) {
  std::vector<const CLI::App*> out;
  for (const CLI::App* sub : app.get_subcommands(std::function<bool(const CLI::App*)>())) {
    if (!sub->get_group().empty()) out.push_back(sub);
  }
  return out;
}

// Options with a name (-x, --xx), hidden ones left out.
std::vector<const CLI::Option*> Named(const CLI::App& app) {
  std::vector<const CLI::Option*> out;
  for (const CLI::Option* option : app.get_options()) {
    if (option->nonpositional() && !Hidden(option)) out.push_back(option);
  }
  return out;
}

std::vector<const CLI::Option*> Positionals(const CLI::App& app) {
  std::vector<const CLI::Option*> out;
  for (const CLI::Option* option : app.get_options()) {
    if (!option->nonpositional() && !Hidden(option)) out.push_back(option);
  }
  return out;
}

std::vector<std::string> Spellings(const CLI::Option* option) {
  std::vector<std::string> out;
  for (const std::string& s : option->get_snames()) out.push_back("-" + s);
  for (const std::string& l : option->get_lnames()) out.push_back("--" + l);
  return out;
}

bool Repeats(const CLI::Option* option) { return option->get_items_expected_max() > 1; }

// --- bash -----------------------------------------------------------------

std::string BashValue(Kind kind, const std::string& run_word) {
  switch (kind) {
    case Kind::kFile:
      return "compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- \"$cur\"))";
    case Kind::kPlan:
      return "compopt -o filenames 2>/dev/null; "
             "COMPREPLY=($(compgen -f -X '!*.json' -- \"$cur\") $(compgen -d -- \"$cur\"))";
    case Kind::kRun:
      return "COMPREPLY=($(compgen -W \"$(_aetherflow_ask ls --ids) last\" -- \"$cur\"))";
    case Kind::kStep:
      return absl::StrCat("COMPREPLY=($(compgen -W \"$(_aetherflow_ask status ", run_word,
                          " --ids)\" -- \"$cur\"))");
    case Kind::kShell:
      return "COMPREPLY=($(compgen -W \"bash zsh fish\" -- \"$cur\"))";
    case Kind::kFlag:
    case Kind::kWord:
      break;
  }
  return ":";
}

std::string Bash(const CLI::App& app) {
  const std::string name = ProgramName(app);
  std::vector<std::string> global_valued, global_spellings, command_names;
  // "CMD:OPTION" patterns of options that take a value; "*:OPTION" for
  // global ones, which go before or after the command.
  std::string skip_values, value_cases, option_cases, positional_cases;
  for (const CLI::Option* option : Named(app)) {
    std::vector<std::string> own = Spellings(option);
    global_spellings.insert(global_spellings.end(), own.begin(), own.end());
    if (KindOf(option) == Kind::kFlag) continue;
    global_valued.insert(global_valued.end(), own.begin(), own.end());
    std::vector<std::string> patterns;
    for (const std::string& s : own) patterns.push_back("*:" + s);
    absl::StrAppend(&value_cases, "    ", absl::StrJoin(patterns, "|"), ") ",
                    BashValue(KindOf(option), ""), "; return;;\n");
  }
  for (const CLI::App* sub : Commands(app)) {
    const std::string cmd = sub->get_name();
    command_names.push_back(cmd);
    std::vector<std::string> spellings;
    for (const CLI::Option* option : Named(*sub)) {
      if (option == sub->get_help_ptr()) continue;  // the global -h/--help
      std::vector<std::string> own = Spellings(option);
      spellings.insert(spellings.end(), own.begin(), own.end());
      if (KindOf(option) == Kind::kFlag) continue;
      std::vector<std::string> patterns;
      for (const std::string& s : own) patterns.push_back(absl::StrCat(cmd, ":", s));
      absl::StrAppend(&skip_values, "        ", absl::StrJoin(patterns, "|"),
                      ") ((i++)); continue;;\n");
      absl::StrAppend(&value_cases, "    ", absl::StrJoin(patterns, "|"), ") ",
                      BashValue(KindOf(option), ""), "; return;;\n");
    }
    spellings.insert(spellings.end(), global_spellings.begin(), global_spellings.end());
    absl::StrAppend(&option_cases, "      ", cmd, ") opts=\"", absl::StrJoin(spellings, " "),
                    "\";;\n");
    std::vector<const CLI::Option*> positionals = Positionals(*sub);
    int run_index = -1;
    for (std::size_t i = 0; i < positionals.size(); ++i) {
      Kind kind = KindOf(positionals[i]);
      if (kind == Kind::kRun && run_index < 0) run_index = static_cast<int>(i);
      const std::string run_word =
          run_index >= 0 ? absl::StrCat("\"${pos[", run_index, "]}\"") : "last";
      const std::string index = Repeats(positionals[i]) ? "*" : std::to_string(i);
      absl::StrAppend(&positional_cases, "    ", cmd, ":", index, ") ",
                      BashValue(kind, run_word), ";;\n");
    }
  }
  const std::string valued = absl::StrJoin(global_valued, "|");
  std::string out = absl::StrCat(
      "# bash completion for ", name, ", written by `", name,
      " completions bash` from its command-line definition.\n"
      "\n"
      "# Asks the daemon (never starting one) with the connection options of\n"
      "# the line being completed.\n"
      "_", name, "_ask() {\n"
      "  local -a conn=()\n"
      "  local i\n"
      "  for ((i = 1; i < ${#COMP_WORDS[@]} - 1; i++)); do\n"
      "    case ${COMP_WORDS[i]} in\n"
      "      ", valued, ") conn+=(\"${COMP_WORDS[i]}\" \"${COMP_WORDS[i+1]}\");;\n"
      "    esac\n"
      "  done\n"
      "  AETHERFLOW_NO_AUTOSTART=1 \"${COMP_WORDS[0]}\" \"${conn[@]}\" \"$@\" 2>/dev/null\n"
      "}\n"
      "\n"
      "_", name, "() {\n"
      "  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
      "  local cmd=\"\" w i opts\n"
      "  local -a pos=()\n"
      "  COMPREPLY=()\n"
      "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
      "    w=${COMP_WORDS[i]}\n"
      "    if [[ $w == -- ]]; then\n"
      "      # run/submit -- CMD ARGS: a command, then its arguments\n"
      "      if ((i == COMP_CWORD - 1)); then COMPREPLY=($(compgen -c -- \"$cur\"))\n"
      "      else compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- \"$cur\")); fi\n"
      "      return\n"
      "    fi\n"
      "    case $w in\n"
      "      ", valued, ") ((i++)); continue;;\n"
      "    esac\n"
      "    if [[ -n $cmd ]]; then\n"
      "      case \"$cmd:$w\" in\n",
      skip_values,
      "      esac\n"
      "    fi\n"
      "    [[ $w == -* ]] && continue\n"
      "    if [[ -z $cmd ]]; then cmd=$w; else pos+=(\"$w\"); fi\n"
      "  done\n"
      "  case \"$cmd:$prev\" in\n",
      value_cases,
      "  esac\n"
      "  if [[ $cur == -* ]]; then\n"
      "    case $cmd in\n",
      option_cases,
      "      *) opts=\"", absl::StrJoin(global_spellings, " "), "\";;\n"
      "    esac\n"
      "    COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
      "    return\n"
      "  fi\n"
      "  if [[ -z $cmd ]]; then\n"
      "    COMPREPLY=($(compgen -W \"", absl::StrJoin(command_names, " "), "\" -- \"$cur\"))\n"
      "    return\n"
      "  fi\n"
      "  case \"$cmd:${#pos[@]}\" in\n",
      positional_cases,
      "  esac\n"
      "}\n"
      "complete -F _", name, " ", name, "\n");
  return out;
}

}  // namespace

namespace {

// zsh runs the bash function through its bashcompinit (COMP_WORDS and
// COMPREPLY as in bash), so both shells complete the same things.
std::string Zsh(const CLI::App& app) {
  const std::string name = ProgramName(app);
  std::string bash = Bash(app);
  bash = bash.substr(0, bash.rfind("complete -F"));
  // This file is the autoloaded function _NAME: the bash function gets
  // another name, and this file's body hands each completion to it.
  bash = absl::StrReplaceAll(bash, {{absl::StrCat("\n_", name, "() {"),
                                     absl::StrCat("\n_", name, "_bash() {")}});
  return absl::StrCat("#compdef ", name, "\n# zsh completion for ", name,
                      ", written by `", name, " completions zsh`.\n",
                      "autoload -U +X bashcompinit && bashcompinit\n", bash,
                      "_bash_complete -F _", name, "_bash\n");
}

std::string FishQuoted(const std::string& text) {
  return "'" + absl::StrReplaceAll(text, {{"\\", "\\\\"}, {"'", "\\'"}}) + "'";
}

std::string FishOption(const std::string& name, const std::string& condition,
                       const CLI::Option* option) {
  std::string line = absl::StrCat("complete -c ", name);
  if (!condition.empty()) absl::StrAppend(&line, " -n ", FishQuoted(condition));
  for (const std::string& s : option->get_snames()) absl::StrAppend(&line, " -s ", s);
  for (const std::string& l : option->get_lnames()) absl::StrAppend(&line, " -l ", l);
  Kind kind = KindOf(option);
  if (kind == Kind::kFile) absl::StrAppend(&line, " -r -F");
  else if (kind != Kind::kFlag) absl::StrAppend(&line, " -x");
  return absl::StrCat(line, " -d ", FishQuoted(option->get_description()), "\n");
}

std::string Fish(const CLI::App& app) {
  const std::string name = ProgramName(app);
  std::string out = absl::StrCat(
      "# fish completion for ", name, ", written by `", name, " completions fish`.\n",
      "function __", name, "_ask\n"
      "    AETHERFLOW_NO_AUTOSTART=1 command ", name, " $argv 2>/dev/null\n"
      "end\n"
      "# the number of words after the command that are not options\n"
      "function __", name, "_npos\n"
      "    set -l words (commandline -opc)\n"
      "    set -l n -1\n"
      "    for w in $words[2..-1]\n"
      "        string match -q -- '-*' $w; or set n (math $n + 1)\n"
      "    end\n"
      "    echo $n\n"
      "end\n"
      "complete -c ", name, " -f\n");
  for (const CLI::Option* option : Named(app)) absl::StrAppend(&out, FishOption(name, "", option));
  for (const CLI::App* sub : Commands(app)) {
    const std::string cmd = sub->get_name();
    absl::StrAppend(&out, "complete -c ", name, " -n __fish_use_subcommand -a ", cmd, " -d ",
                    FishQuoted(sub->get_description()), "\n");
    const std::string in = "__fish_seen_subcommand_from " + cmd;
    for (const CLI::Option* option : Named(*sub)) {
      if (option != sub->get_help_ptr()) absl::StrAppend(&out, FishOption(name, in, option));
    }
    std::vector<const CLI::Option*> positionals = Positionals(*sub);
    for (std::size_t i = 0; i < positionals.size(); ++i) {
      std::string condition = in;
      if (!Repeats(positionals[i])) {
        absl::StrAppend(&condition, "; and test (__", name, "_npos) -eq ", i);
      }
      std::string what;
      switch (KindOf(positionals[i])) {
        case Kind::kPlan: what = " -F"; break;
        case Kind::kRun: what = absl::StrCat(" -a '(__", name, "_ask ls --ids) last'"); break;
        case Kind::kStep:
          what = absl::StrCat(" -a '(__", name,
                              "_ask status (commandline -opc)[3] --ids)'");
          break;
        case Kind::kShell: what = " -a 'bash zsh fish'"; break;
        default: break;
      }
      if (!what.empty()) {
        absl::StrAppend(&out, "complete -c ", name, " -n ", FishQuoted(condition), what, "\n");
      }
    }
  }
  return out;
}

}  // namespace

std::string CompletionScript(const CLI::App& app, const std::string& shell) {
  if (shell == "bash") return Bash(app);
  if (shell == "zsh") return Zsh(app);
  if (shell == "fish") return Fish(app);
  return "";
}

namespace {

// Markdown-safe text (man pages show it as written).
std::string Escaped(const std::string& text) {
  return absl::StrReplaceAll(text, {{"\\", "\\\\"}, {"*", "\\*"}, {"_", "\\_"},
                                    {"<", "\\<"}, {"`", "\\`"}});
}

std::string ValueName(const CLI::Option* option) {
  switch (KindOf(option)) {
    case Kind::kFlag:
      return "";
    case Kind::kFile:
      return "FILE";
    default:
      break;
  }
  std::string type = option->get_type_name();
  return type.empty() ? "VALUE" : type;
}

void AppendOptions(const std::vector<const CLI::Option*>& options, std::string* out) {
  for (const CLI::Option* option : options) {
    std::vector<std::string> spellings;
    for (const std::string& s : Spellings(option)) spellings.push_back("**" + s + "**");
    std::string value = ValueName(option);
    absl::StrAppend(out, absl::StrJoin(spellings, ", "),
                    value.empty() ? "" : absl::StrCat(" *", value, "*"), "\n:   ",
                    Escaped(option->get_description()), "\n\n");
  }
}

std::string Usage(const std::string& program, const CLI::App& sub) {
  std::string usage = absl::StrCat("**", program, " ", sub.get_name(), "**");
  for (const CLI::Option* option : Positionals(sub)) {
    std::string word = absl::AsciiStrToUpper(option->get_name());
    if (Repeats(option)) word += "...";
    absl::StrAppend(&usage, " ", option->get_required() ? word : "[" + word + "]");
  }
  if (!Named(sub).empty()) absl::StrAppend(&usage, " [*options*]");
  return usage;
}

}  // namespace

std::string ManualSections(const CLI::App& app) {
  std::string out = "# OPTIONS\n\n";
  AppendOptions(Named(app), &out);
  std::vector<const CLI::App*> commands = Commands(app);
  if (commands.empty()) return out;
  absl::StrAppend(&out, "# COMMANDS\n\n");
  for (const CLI::App* sub : commands) {
    absl::StrAppend(&out, "## ", sub->get_name(), "\n\n", Usage(ProgramName(app), *sub),
                    "\n\n", Escaped(sub->get_description()), "\n\n");
    for (const CLI::Option* option : Positionals(*sub)) {
      absl::StrAppend(&out, "*", absl::AsciiStrToUpper(option->get_name()), "*\n:   ",
                      Escaped(option->get_description()), "\n\n");
    }
    std::vector<const CLI::Option*> named;
    for (const CLI::Option* option : Named(*sub)) {
      if (option != sub->get_help_ptr()) named.push_back(option);
    }
    AppendOptions(named, &out);
  }
  return out;
}

}  // namespace aetherflow
