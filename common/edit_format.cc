#include "common/edit_format.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/project_path.h"

namespace aetherflow {
namespace {

absl::string_view AbslView(std::string_view s) { return {s.data(), s.size()}; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && absl::ascii_isspace(s.front())) s.remove_prefix(1);
  while (!s.empty() && absl::ascii_isspace(s.back())) s.remove_suffix(1);
  return s;
}

std::string_view RTrim(std::string_view s) {
  while (!s.empty() && absl::ascii_isspace(s.back())) s.remove_suffix(1);
  return s;
}

// One line of a text: its body without the line ending, and the ending
// ("\n", "\r\n" or "" for a last line without one).
struct Line {
  std::string_view body;
  std::string_view eol;
};

std::vector<Line> SplitLines(std::string_view text) {
  std::vector<Line> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) {
      lines.push_back({text.substr(start), {}});
      break;
    }
    std::size_t body_end = end;
    if (body_end > start && text[body_end - 1] == '\r') --body_end;
    lines.push_back({text.substr(start, body_end - start), text.substr(body_end, end + 1 - body_end)});
    start = end + 1;
  }
  return lines;
}

std::vector<std::string_view> Bodies(std::string_view text) {
  std::vector<std::string_view> out;
  for (const Line& l : SplitLines(text)) out.push_back(l.body);
  return out;
}

std::string OneLine(std::string_view s, std::size_t max) {
  std::string out;
  for (char c : s.substr(0, max)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 && c != '\t') || u == 0x7f ? '?' : c;
  }
  if (s.size() > max) out += "...";
  return out;
}

// ---- markers and fences

// <<<<<<< SEARCH, ======= and >>>>>>> REPLACE, 5 to 9 marker characters.
bool IsMarker(std::string_view line, char c, std::string_view word) {
  line = Trim(line);
  std::size_t n = 0;
  while (n < line.size() && line[n] == c) ++n;
  if (n < 5 || n > 9) return false;
  return Trim(line.substr(n)) == word;
}
bool IsSearch(std::string_view line) { return IsMarker(line, '<', "SEARCH"); }
bool IsDivider(std::string_view line) { return IsMarker(line, '=', ""); }
bool IsReplace(std::string_view line) { return IsMarker(line, '>', "REPLACE"); }

struct Fence {
  std::size_t indent = 0;
  char ch = 0;
  std::size_t length = 0;
  std::string_view info;
};

std::optional<Fence> ParseOpener(std::string_view line) {
  Fence f;
  while (f.indent < line.size() && (line[f.indent] == ' ' || line[f.indent] == '\t')) ++f.indent;
  if (f.indent == line.size()) return std::nullopt;
  f.ch = line[f.indent];
  if (f.ch != '`' && f.ch != '~') return std::nullopt;
  std::size_t end = f.indent;
  while (end < line.size() && line[end] == f.ch) ++end;
  f.length = end - f.indent;
  if (f.length < 3) return std::nullopt;
  f.info = Trim(line.substr(end));
  if (f.ch == '`' && f.info.find('`') != std::string_view::npos) return std::nullopt;
  return f;
}

bool IsCloser(std::string_view line, const Fence& opener) {
  line = Trim(line);
  return line.size() >= opener.length &&
         std::all_of(line.begin(), line.end(), [&](char c) { return c == opener.ch; });
}

// ---- paths named in the answer

// Candidates for a path in a line of prose or a fence's info string, best
// first: the whole line undecorated, the last `code span`, the last word.
std::vector<std::string> PathCandidates(std::string_view line) {
  std::vector<std::string> out;
  auto undecorate = [](std::string_view s) {
    s = Trim(s);
    while (!s.empty() && std::string_view("#*_>-`\"' ").find(s.front()) != std::string_view::npos) {
      s.remove_prefix(1);
    }
    for (std::string_view prefix : {"file:", "filename:", "path:", "title=", "file=", "path="}) {
      if (absl::StartsWithIgnoreCase(AbslView(s), AbslView(prefix))) s = Trim(s.substr(prefix.size()));
    }
    while (!s.empty() && std::string_view(":*_`\"' ,;").find(s.back()) != std::string_view::npos) {
      s.remove_suffix(1);
    }
    while (!s.empty() && std::string_view("*_`\"'").find(s.front()) != std::string_view::npos) {
      s.remove_prefix(1);
    }
    return std::string(s);
  };
  out.push_back(undecorate(line));
  const std::size_t close = line.rfind('`');
  if (close != std::string_view::npos && close > 0) {
    const std::size_t open = line.rfind('`', close - 1);
    if (open != std::string_view::npos) out.push_back(undecorate(line.substr(open + 1, close - open - 1)));
  }
  std::string_view rest = Trim(line);
  const std::size_t space = rest.find_last_of(" \t");
  if (space != std::string_view::npos) {
    out.push_back(undecorate(rest.substr(space + 1)));
    // ```python src/a.py: the words after the language.
    const std::size_t first = rest.find_first_of(" \t");
    out.push_back(undecorate(rest.substr(first + 1)));
  }
  out.erase(std::remove(out.begin(), out.end(), std::string()), out.end());
  return out;
}

constexpr int kNoFile = -1;

// Which of `files` `name` names: exactly, or as the only file it is a
// '/'-suffix of (or that is a suffix of it).
int FileNamed(std::string_view name, const std::vector<std::string>& files) {
  absl::StatusOr<std::string> normal = NormalizeProjectPath(name);
  if (!normal.ok()) return kNoFile;
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (files[i] == *normal) return static_cast<int>(i);
  }
  auto suffix = [](std::string_view longer, std::string_view shorter) {
    return longer.size() > shorter.size() && absl::EndsWith(AbslView(longer), AbslView(shorter)) &&
           longer[longer.size() - shorter.size() - 1] == '/';
  };
  int found = kNoFile;
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (suffix(files[i], *normal) || suffix(*normal, files[i])) {
      if (found != kNoFile) return kNoFile;  // ambiguous
      found = static_cast<int>(i);
    }
  }
  return found;
}

bool LooksLikePath(std::string_view s) {
  if (s.empty() || s.size() > 4096 || s.find_first_of(" \t") != std::string_view::npos) return false;
  const std::size_t slash = s.rfind('/');
  const std::string_view base = slash == std::string_view::npos ? s : s.substr(slash + 1);
  const std::size_t dot = base.rfind('.');
  return slash != std::string_view::npos || (dot != std::string_view::npos && dot + 1 < base.size());
}

bool NamesAPath(std::string_view info) {
  for (const std::string& candidate : PathCandidates(info)) {
    if (LooksLikePath(candidate)) return true;
  }
  return false;
}

// What a line names: a file of `files`, another path, or nothing.
struct Named {
  int file = kNoFile;
  std::string other;  // a path that is not one of `files`
};

Named NameIn(std::string_view line, const std::vector<std::string>& files) {
  Named named;
  for (const std::string& candidate : PathCandidates(line)) {
    int file = FileNamed(candidate, files);
    if (file != kNoFile) {
      named.file = file;
      return named;
    }
    if (named.other.empty() && LooksLikePath(candidate)) named.other = candidate;
  }
  return named;
}

std::string FileList(const std::vector<std::string>& files) {
  return files.empty() ? std::string("no file") : absl::StrJoin(files, ", ");
}

// ---- applying

struct Window {
  std::size_t start = 0;
  std::vector<std::string> replacement;  // bodies
};

// Places where `search` matches `lines` exactly (line bodies).
std::vector<std::size_t> ExactMatches(const std::vector<Line>& lines,
                                      const std::vector<std::string_view>& search) {
  std::vector<std::size_t> out;
  if (search.size() > lines.size()) return out;
  for (std::size_t p = 0; p + search.size() <= lines.size(); ++p) {
    bool all = true;
    for (std::size_t i = 0; i < search.size() && all; ++i) all = lines[p + i].body == search[i];
    if (all) out.push_back(p);
  }
  return out;
}

std::size_t LeadingSpace(std::string_view s) {
  std::size_t n = 0;
  while (n < s.size() && (s[n] == ' ' || s[n] == '\t')) ++n;
  return n;
}

// Places where `search` matches ignoring trailing whitespace and one
// consistent indentation difference; each with the REPLACE lines
// re-indented to match.
std::vector<Window> TolerantMatches(const std::vector<Line>& lines,
                                    const std::vector<std::string_view>& search,
                                    const std::vector<std::string_view>& replace) {
  std::vector<Window> out;
  if (search.size() > lines.size()) return out;
  std::size_t indent = SIZE_MAX;
  for (const auto* side : {&search, &replace}) {
    for (std::string_view l : *side) {
      if (!RTrim(l).empty()) indent = std::min(indent, LeadingSpace(l));
    }
  }
  if (indent == SIZE_MAX) indent = 0;
  std::vector<std::string_view> s;
  for (std::string_view l : search) {
    l = RTrim(l);
    s.push_back(l.empty() ? l : l.substr(indent));
  }
  for (std::size_t p = 0; p + s.size() <= lines.size(); ++p) {
    std::optional<std::string_view> prefix;
    bool all = true;
    for (std::size_t i = 0; i < s.size() && all; ++i) {
      const std::string_view c = RTrim(lines[p + i].body);
      if (s[i].empty()) {
        all = c.empty();
        continue;
      }
      if (c.size() < s[i].size() || c.substr(c.size() - s[i].size()) != s[i]) {
        all = false;
        continue;
      }
      const std::string_view pre = c.substr(0, c.size() - s[i].size());
      if (LeadingSpace(pre) != pre.size()) all = false;
      else if (!prefix) prefix = pre;
      else all = *prefix == pre;
    }
    if (!all) continue;
    Window w;
    w.start = p;
    for (std::string_view r : replace) {
      if (RTrim(r).empty()) w.replacement.emplace_back();
      else w.replacement.push_back(absl::StrCat(AbslView(prefix.value_or("")), AbslView(r.substr(indent))));
    }
    out.push_back(std::move(w));
  }
  return out;
}

// "  12| text" -> "text"; nullopt when `line` has no such prefix.
std::optional<std::string_view> WithoutNumber(std::string_view line) {
  std::size_t i = 0;
  while (i < line.size() && line[i] == ' ') ++i;
  const std::size_t digits = i;
  while (i < line.size() && absl::ascii_isdigit(line[i])) ++i;
  if (i == digits || i >= line.size() || line[i] != '|') return std::nullopt;
  ++i;
  if (i < line.size() && line[i] == ' ') ++i;
  return line.substr(i);
}

// Lines of a SEARCH copied with their numbers: the lines without them.
std::optional<std::vector<std::string_view>> StripNumbers(const std::vector<std::string_view>& in,
                                                          bool all_required) {
  std::vector<std::string_view> out;
  bool any = false;
  for (std::string_view l : in) {
    std::optional<std::string_view> bare = WithoutNumber(l);
    if (bare) {
      any = true;
      out.push_back(*bare);
    } else if (all_required && !Trim(l).empty()) {
      return std::nullopt;
    } else {
      out.push_back(l);
    }
  }
  if (!any) return std::nullopt;
  return out;
}

// Similarity of two lines in [0, 1]: Dice coefficient of their character
// bigrams (after trimming), 1 for equal lines.
std::vector<uint16_t> Bigrams(std::string_view s) {
  s = Trim(s);
  std::vector<uint16_t> out;
  for (std::size_t i = 0; i + 1 < s.size(); ++i) {
    out.push_back(static_cast<uint16_t>(static_cast<unsigned char>(s[i]) << 8 |
                                        static_cast<unsigned char>(s[i + 1])));
  }
  std::sort(out.begin(), out.end());
  return out;
}

double Similarity(const std::vector<uint16_t>& a, const std::vector<uint16_t>& b) {
  if (a.empty() && b.empty()) return 1.0;
  if (a.empty() || b.empty()) return 0.0;
  std::size_t i = 0, j = 0, common = 0;
  while (i < a.size() && j < b.size()) {
    if (a[i] == b[j]) {
      ++common, ++i, ++j;
    } else if (a[i] < b[j]) {
      ++i;
    } else {
      ++j;
    }
  }
  return 2.0 * static_cast<double>(common) / static_cast<double>(a.size() + b.size());
}

std::string NumberedLines(const std::vector<Line>& lines, std::size_t from, std::size_t count) {
  std::string out;
  const std::size_t width = std::to_string(lines.size()).size();
  for (std::size_t i = from; i < from + count && i < lines.size(); ++i) {
    absl::StrAppend(&out, absl::StrFormat("%*d| ", static_cast<int>(width), static_cast<int>(i + 1)),
                    OneLine(lines[i].body, 200), "\n");
  }
  return out;
}

// The window of `lines` most like `search`, numbered, at most 20 lines.
std::string ClosestLines(const std::vector<Line>& lines, const std::vector<std::string_view>& search) {
  if (lines.empty()) return "(the file is empty)\n";
  // Bounded work on this error path: the first 50 lines of the SEARCH.
  const std::size_t k = std::min({search.size(), lines.size(), std::size_t{50}});
  std::vector<std::vector<uint16_t>> s;
  for (std::size_t i = 0; i < k; ++i) s.push_back(Bigrams(search[i]));
  std::vector<std::vector<uint16_t>> c;
  c.reserve(lines.size());
  for (const Line& l : lines) c.push_back(Bigrams(l.body));
  std::size_t best = 0;
  double best_score = -1;
  for (std::size_t p = 0; p + k <= lines.size(); ++p) {
    double score = 0;
    for (std::size_t i = 0; i < k; ++i) score += Similarity(c[p + i], s[i]);
    if (score > best_score) {
      best_score = score;
      best = p;
    }
  }
  const std::size_t shown = std::min(std::max(search.size(), std::size_t{1}), std::size_t{20});
  return absl::StrCat("the closest lines of the file (", best + 1, "-",
                      std::min(best + shown, lines.size()), ") are:\n",
                      NumberedLines(lines, best, shown));
}

std::string BlockName(const FileEdit& edit, std::size_t index) {
  return edit.blocks.size() == 1
             ? absl::StrCat("the SEARCH block for ", edit.path)
             : absl::StrCat("SEARCH block ", index + 1, " of ", edit.blocks.size(), " for ", edit.path);
}

std::string Join(const std::vector<Line>& lines, std::size_t from, std::size_t to) {
  std::string out;
  for (std::size_t i = from; i < to; ++i) absl::StrAppend(&out, AbslView(lines[i].body), AbslView(lines[i].eol));
  return out;
}

absl::StatusOr<std::string> ApplyBlock(const std::string& text, const FileEdit& edit,
                                       std::size_t index) {
  const SearchReplace& block = edit.blocks[index];
  const std::vector<Line> lines = SplitLines(text);
  const std::string eol = !lines.empty() && lines[0].eol == "\r\n" ? "\r\n" : "\n";
  std::vector<std::string_view> replace = Bodies(block.replace);
  auto emit = [&](std::string* out, const std::vector<std::string>& rep, bool last_has_eol) {
    for (std::size_t i = 0; i < rep.size(); ++i) {
      absl::StrAppend(out, rep[i], i + 1 < rep.size() || last_has_eol ? eol : "");
    }
  };
  if (block.search.empty()) {
    std::string out = text;
    if (!out.empty() && out.back() != '\n') out += eol;
    emit(&out, std::vector<std::string>(replace.begin(), replace.end()), true);
    return out;
  }
  const std::vector<std::string_view> search = Bodies(block.search);
  auto splice = [&](std::size_t start, const std::vector<std::string>& rep) {
    const std::size_t end = start + search.size();
    const bool last_has_eol = end < lines.size() || !lines[end - 1].eol.empty();
    std::string out = Join(lines, 0, start);
    emit(&out, rep, last_has_eol);
    out += Join(lines, end, lines.size());
    return out;
  };
  auto ambiguous = [&](const std::vector<std::size_t>& starts) {
    std::vector<std::string> places;
    for (std::size_t i = 0; i < starts.size() && i < 5; ++i) {
      places.push_back(absl::StrCat(starts[i] + 1, "-", starts[i] + search.size()));
    }
    if (starts.size() > 5) places.push_back("...");
    return absl::FailedPreconditionError(absl::StrCat(
        BlockName(edit, index), " matches ", starts.size(), " places (lines ",
        absl::StrJoin(places, ", "), "); include more lines around the change so that it matches one"));
  };
  // Exact, then tolerant; each also with line numbers copied from the
  // prompt taken off.
  std::vector<std::pair<std::vector<std::string_view>, std::vector<std::string_view>>> tries = {
      {search, replace}};
  if (std::optional<std::vector<std::string_view>> bare = StripNumbers(search, true)) {
    tries.emplace_back(*bare, StripNumbers(replace, false).value_or(replace));
  }
  for (const auto& [s, r] : tries) {
    std::vector<std::size_t> exact = ExactMatches(lines, s);
    if (exact.size() > 1) return ambiguous(exact);
    if (exact.size() == 1) return splice(exact[0], std::vector<std::string>(r.begin(), r.end()));
  }
  for (const auto& [s, r] : tries) {
    std::vector<Window> tolerant = TolerantMatches(lines, s, r);
    if (tolerant.size() > 1) {
      std::vector<std::size_t> starts;
      for (const Window& w : tolerant) starts.push_back(w.start);
      return ambiguous(starts);
    }
    if (tolerant.size() == 1) return splice(tolerant[0].start, tolerant[0].replacement);
  }
  return absl::FailedPreconditionError(absl::StrCat(
      BlockName(edit, index),
      " matches no lines of the file (also not ignoring whitespace and indentation); ",
      ClosestLines(lines, search)));
}

// ---- prompt

std::string LanguageOf(std::string_view path) {
  const std::size_t dot = path.rfind('.');
  if (dot == std::string_view::npos || path.find('/', dot) != std::string_view::npos) return "";
  const std::string ext = absl::AsciiStrToLower(AbslView(path.substr(dot + 1)));
  static constexpr std::pair<std::string_view, std::string_view> kLanguages[] = {
      {"py", "python"}, {"js", "javascript"}, {"mjs", "javascript"}, {"ts", "typescript"},
      {"json", "json"}, {"yaml", "yaml"},     {"yml", "yaml"},        {"toml", "toml"},
      {"sh", "sh"},     {"bash", "bash"},     {"c", "c"},             {"h", "c"},
      {"cc", "cpp"},    {"cpp", "cpp"},       {"hpp", "cpp"},         {"rs", "rust"},
      {"go", "go"},     {"java", "java"},     {"rb", "ruby"},         {"md", "markdown"},
      {"html", "html"}, {"css", "css"},       {"sql", "sql"},         {"txt", "text"},
  };
  for (const auto& [e, language] : kLanguages) {
    if (ext == e) return std::string(language);
  }
  return "";
}

std::string FenceFor(std::string_view content) {
  std::size_t longest = 0, run = 0;
  for (char c : content) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  return std::string(std::max<std::size_t>(3, longest + 1), '`');
}

}  // namespace

std::string BuildEditPrompt(const std::vector<EditableFile>& files, LineNumbers numbers,
                            std::size_t max_content_bytes) {
  std::string out = "# Files you may change\n\n";
  out += "This step may write only these files (paths relative to the project):\n";
  const EditableFile* example = nullptr;
  bool numbered_any = false;
  for (const EditableFile& f : files) {
    if (f.content) {
      const std::size_t n = SplitLines(*f.content).size();
      absl::StrAppend(&out, "- ", f.path, " (exists, ", n, n == 1 ? " line)\n" : " lines)\n");
      if (!example) example = &f;
      numbered_any |= numbers == LineNumbers::kAlways ||
                      (numbers == LineNumbers::kLongFiles && n > kNumberLinesFrom);
    } else {
      absl::StrAppend(&out, "- ", f.path, " (new file)\n");
    }
  }
  out += "\n# How to answer\n\n";
  if (example) {
    const std::string language = LanguageOf(example->path);
    out +=
        "To change a file that exists, give SEARCH/REPLACE blocks: the file's path alone on a "
        "line, then a fenced block holding `<<<<<<< SEARCH`, the exact lines to replace copied "
        "from the current content, `=======`, the new lines, and `>>>>>>> REPLACE`. For "
        "example:\n\n";
    absl::StrAppend(&out, example->path, "\n```", language,
                    "\n<<<<<<< SEARCH\nold line 1\nold line 2\n=======\nnew line 1\n"
                    ">>>>>>> REPLACE\n```\n\n");
    out +=
        "Each SEARCH must match exactly one place of the file, whole lines, with the same "
        "indentation: include a few unchanged lines around the change when a line occurs "
        "more than once. Keep blocks short; several blocks for one file are fine and apply in "
        "order. To delete lines, leave the part after `=======` empty.\n";
  }
  const bool any_new = std::any_of(files.begin(), files.end(),
                                   [](const EditableFile& f) { return !f.content.has_value(); });
  if (any_new) {
    out +=
        "To create a new file, give its path alone on a line, then a fenced block with its "
        "whole content.\n";
  }
  out += "Do not write any other file.\n";
  if (numbered_any) {
    out +=
        "Line numbers (`  12| `) are shown below for reference only: never copy them into "
        "SEARCH or REPLACE lines.\n";
  }
  for (const EditableFile& f : files) {
    if (!f.content) continue;
    std::string_view content = *f.content;
    std::string note;
    if (content.size() > max_content_bytes) {
      std::size_t cut = content.rfind('\n', max_content_bytes);
      cut = cut == std::string_view::npos ? 0 : cut + 1;
      const std::size_t total = SplitLines(content).size();
      content = content.substr(0, cut);
      note = absl::StrCat("(cut here: ", total - SplitLines(content).size(),
                          " more lines are not shown; SEARCH only lines shown above)\n");
    }
    const std::vector<Line> lines = SplitLines(content);
    const bool numbered = numbers == LineNumbers::kAlways ||
                          (numbers == LineNumbers::kLongFiles && SplitLines(*f.content).size() > kNumberLinesFrom);
    std::string body;
    if (numbered) {
      const std::size_t width = std::to_string(lines.size()).size();
      for (std::size_t i = 0; i < lines.size(); ++i) {
        absl::StrAppend(&body, absl::StrFormat("%*d| ", static_cast<int>(width), static_cast<int>(i + 1)),
                        AbslView(lines[i].body), "\n");
      }
    } else {
      for (const Line& l : lines) absl::StrAppend(&body, AbslView(l.body), "\n");
    }
    const std::string fence = FenceFor(body);
    absl::StrAppend(&out, "\n## Current content of ", f.path, "\n\n", fence, LanguageOf(f.path), "\n",
                    body, fence, "\n", note);
  }
  return out;
}

absl::StatusOr<std::vector<FileEdit>> ParseEdits(std::string_view answer,
                                                 const std::vector<std::string>& files) {
  struct Found {
    std::vector<SearchReplace> blocks;
    std::optional<std::string> whole_file;
  };
  std::vector<Found> found(files.size());
  std::vector<std::string> unnamed;  // fenced blocks that name no file
  std::size_t named_blocks = 0;
  std::vector<std::string_view> lines;
  for (const Line& l : SplitLines(answer)) lines.push_back(l.body);
  int current = kNoFile;     // the file of the last SEARCH block
  std::string_view prose;    // the last non-blank line outside fences

  // The file a SEARCH block at `line_index` belongs to.
  auto file_for_search = [&](std::string_view named_line) -> absl::StatusOr<int> {
    Named named = NameIn(named_line, files);
    if (named.file != kNoFile) return named.file;
    if (!named.other.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the answer edits ", OneLine(named.other, 200), ", but this step may write only ",
          FileList(files)));
    }
    if (current != kNoFile) return current;
    if (files.size() == 1) return 0;
    return absl::InvalidArgumentError(absl::StrCat(
        "a SEARCH/REPLACE block names no file: put the file's path alone on the line before its "
        "fence (this step may write ", FileList(files), ")"));
  };
  // Parses the block whose SEARCH marker is lines[i]; returns the index
  // after its REPLACE marker.
  auto parse_block = [&](std::size_t i, int file) -> absl::StatusOr<std::size_t> {
    SearchReplace block;
    std::size_t j = i + 1;
    for (; j < lines.size() && !IsDivider(lines[j]); ++j) {
      absl::StrAppend(&block.search, AbslView(lines[j]), "\n");
    }
    if (j == lines.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "a SEARCH/REPLACE block for ", files[file], " has no ======= line"));
    }
    for (++j; j < lines.size() && !IsReplace(lines[j]); ++j) {
      if (IsSearch(lines[j]) || IsDivider(lines[j])) break;
      absl::StrAppend(&block.replace, AbslView(lines[j]), "\n");
    }
    if (j == lines.size() || !IsReplace(lines[j])) {
      return absl::InvalidArgumentError(absl::StrCat(
          "a SEARCH/REPLACE block for ", files[file], " has no >>>>>>> REPLACE line"));
    }
    found[file].blocks.push_back(std::move(block));
    ++named_blocks;
    current = file;
    return j + 1;
  };

  for (std::size_t i = 0; i < lines.size();) {
    const std::string_view line = lines[i];
    if (IsSearch(line)) {  // unfenced
      absl::StatusOr<int> file = file_for_search(prose);
      if (!file.ok()) return file.status();
      absl::StatusOr<std::size_t> next = parse_block(i, *file);
      if (!next.ok()) return next.status();
      i = *next;
      prose = {};
      continue;
    }
    std::optional<Fence> fence = ParseOpener(line);
    if (!fence) {
      if (!Trim(line).empty()) prose = line;
      ++i;
      continue;
    }
    // A fence holding a SEARCH marker (maybe after a path line inside it)
    // is one of SEARCH/REPLACE blocks, never a file's content.
    std::size_t j = i + 1;
    while (j < lines.size() && !IsCloser(lines[j], *fence) && !IsSearch(lines[j])) ++j;
    if (j < lines.size() && IsSearch(lines[j])) {
      j = i + 1;
      // A fence of SEARCH/REPLACE blocks; a path line between two blocks
      // switches the file.
      std::string_view named_line =
          !fence->info.empty() && (NameIn(fence->info, files).file != kNoFile || NamesAPath(fence->info))
              ? fence->info
              : prose;
      while (j < lines.size()) {
        if (IsSearch(lines[j])) {
          absl::StatusOr<int> file = file_for_search(named_line);
          if (!file.ok()) return file.status();
          absl::StatusOr<std::size_t> next = parse_block(j, *file);
          if (!next.ok()) return next.status();
          j = *next;
          named_line = {};
        } else if (IsCloser(lines[j], *fence)) {
          ++j;
          break;
        } else {
          if (!Trim(lines[j]).empty()) named_line = lines[j];
          ++j;
        }
      }
      i = j;
      prose = {};
      continue;
    }
    // A plain fenced block: a whole file when it names one.
    std::string code;
    for (j = i + 1; j < lines.size(); ++j) {
      if (IsCloser(lines[j], *fence)) {
        ++j;
        break;
      }
      std::string_view l = lines[j];
      std::size_t strip = 0;
      while (strip < fence->indent && strip < l.size() && (l[strip] == ' ' || l[strip] == '\t')) ++strip;
      absl::StrAppend(&code, AbslView(l.substr(strip)), "\n");
    }
    int file = fence->info.empty() ? kNoFile : NameIn(fence->info, files).file;
    Named from_prose = NameIn(prose, files);
    if (file == kNoFile) file = from_prose.file;
    if (file != kNoFile) {
      found[file].whole_file = std::move(code);
      ++named_blocks;
    } else if (from_prose.other.empty() && !NamesAPath(fence->info)) {
      unnamed.push_back(std::move(code));
    }
    i = j;
    prose = {};
  }
  if (files.size() == 1 && named_blocks == 0 && unnamed.size() == 1) {
    found[0].whole_file = std::move(unnamed[0]);
  }
  std::vector<FileEdit> edits;
  for (std::size_t f = 0; f < files.size(); ++f) {
    if (!found[f].blocks.empty()) {
      edits.push_back({files[f], std::move(found[f].blocks), std::nullopt});
    } else if (found[f].whole_file) {
      edits.push_back({files[f], {}, std::move(found[f].whole_file)});
    }
  }
  return edits;
}

absl::Status CheckEditsCover(const std::vector<FileEdit>& edits,
                             const std::vector<std::string>& required) {
  std::vector<std::string> missing;
  for (const std::string& path : required) {
    const bool has = std::any_of(edits.begin(), edits.end(),
                                 [&](const FileEdit& e) { return e.path == path; });
    if (!has) missing.push_back(path);
  }
  if (missing.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "the answer has no SEARCH/REPLACE or file block for ", absl::StrJoin(missing, ", ")));
}

absl::StatusOr<std::string> ApplyEdit(const FileEdit& edit, const std::optional<std::string>& current) {
  if (edit.whole_file) return *edit.whole_file;
  if (!current) {
    const bool creates = std::all_of(edit.blocks.begin(), edit.blocks.end(),
                                     [](const SearchReplace& b) { return b.search.empty(); });
    if (!creates) {
      return absl::FailedPreconditionError(absl::StrCat(
          edit.path, " does not exist, so a SEARCH cannot match in it; give a new file's whole "
                     "content in a fenced block under its path"));
    }
  }
  std::string text = current.value_or("");
  for (std::size_t i = 0; i < edit.blocks.size(); ++i) {
    absl::StatusOr<std::string> next = ApplyBlock(text, edit, i);
    if (!next.ok()) return next.status();
    text = std::move(*next);
  }
  return text;
}

}  // namespace aetherflow
