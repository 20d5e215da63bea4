#include "common/project_path.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace aetherflow {
namespace {

constexpr std::size_t kMaxPathBytes = 4096;
constexpr std::size_t kMaxComponentBytes = 255;

bool IsControl(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

// The path as it may be quoted in a one-line message.
std::string Printable(std::string_view path) {
  std::string out;
  for (char c : path.substr(0, 200)) out += IsControl(c) ? '?' : c;
  if (path.size() > 200) out += "...";
  return out;
}

}  // namespace

absl::StatusOr<std::string> NormalizeProjectPath(std::string_view path) {
  auto refuse = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("path \"", Printable(path), "\" is refused: ", std::string(why)));
  };
  if (path.empty()) return refuse("empty");
  if (path.size() > kMaxPathBytes) return refuse("longer than 4096 bytes");
  if (std::any_of(path.begin(), path.end(), IsControl)) {
    return refuse("control characters (or NUL) are not allowed");
  }
  if (path.front() == '/') return refuse("absolute paths are not allowed; name files relative to the project");
  if (path.back() == '/') return refuse("it names a directory");
  std::string out;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view part = path.substr(start, end - start);
    start = end + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") return refuse("\"..\" is not allowed; a step writes inside the project");
    if (part.size() > kMaxComponentBytes) return refuse("a name is longer than 255 bytes");
    if (part == ".git") return refuse("files under .git are not project files");
    if (!out.empty()) out += '/';
    out.append(part);
  }
  if (out.empty()) return refuse("it names the project directory itself");
  return out;
}

bool SameProjectPath(std::string_view a, std::string_view b) {
  absl::StatusOr<std::string> na = NormalizeProjectPath(a);
  absl::StatusOr<std::string> nb = NormalizeProjectPath(b);
  return na.ok() && nb.ok() && *na == *nb;
}

bool StepApplies(const Step& step, bool run_apply) {
  return run_apply && !step.is_command() && step.context.auto_apply &&
         !step.context.files.empty();
}

absl::StatusOr<std::vector<std::string>> WritableFiles(const Step& step) {
  std::vector<std::string> files;
  for (const std::string& path : step.context.files) {
    absl::StatusOr<std::string> normal = NormalizeProjectPath(path);
    if (!normal.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("step ", step.id, " may not write ", normal.status().message()));
    }
    if (std::find(files.begin(), files.end(), *normal) == files.end()) {
      files.push_back(std::move(*normal));
    }
  }
  return files;
}

}  // namespace aetherflow
