#include "common/unified_diff.h"

#include <algorithm>
#include <cstddef>

#include "absl/strings/str_cat.h"

namespace aetherflow {
namespace {

constexpr int kMaxEditDistance = 2000;

// Lines with their '\n' (the last may lack one).
std::vector<std::string_view> Lines(const std::optional<std::string>& text) {
  std::vector<std::string_view> out;
  if (!text) return out;
  std::string_view s = *text;
  while (!s.empty()) {
    std::size_t end = s.find('\n');
    end = end == std::string_view::npos ? s.size() : end + 1;
    out.push_back(s.substr(0, end));
    s.remove_prefix(end);
  }
  return out;
}

bool Binary(const std::optional<std::string>& text) {
  return text && text->find('\0') != std::string::npos;
}

enum class Op { kEqual, kDelete, kInsert };

// A shortest edit script from a to b (Myers), or nullopt past
// kMaxEditDistance.
std::optional<std::vector<Op>> Myers(const std::vector<std::string_view>& a,
                                     const std::vector<std::string_view>& b) {
  const int n = static_cast<int>(a.size());
  const int m = static_cast<int>(b.size());
  const int max = std::min(n + m, kMaxEditDistance);
  std::vector<int> v(2 * max + 3, 0);
  const int off = max + 1;
  // trace[d]: v[-d-1 .. d+1] as it was when step d began.
  std::vector<std::vector<int>> trace;
  int found = -1;
  for (int d = 0; d <= max && found < 0; ++d) {
    trace.emplace_back(v.begin() + off - d - 1, v.begin() + off + d + 2);
    for (int k = -d; k <= d; k += 2) {
      int x = (k == -d || (k != d && v[off + k - 1] < v[off + k + 1])) ? v[off + k + 1]
                                                                       : v[off + k - 1] + 1;
      int y = x - k;
      while (x < n && y < m && a[x] == b[y]) ++x, ++y;
      v[off + k] = x;
      if (x >= n && y >= m) {
        found = d;
        break;
      }
    }
  }
  if (found < 0) return std::nullopt;
  std::vector<Op> ops;
  int x = n, y = m;
  for (int d = found; d >= 0; --d) {
    const std::vector<int>& t = trace[d];
    auto at = [&](int k) { return t[k + d + 1]; };
    const int k = x - y;
    int prev_k = (k == -d || (k != d && at(k - 1) < at(k + 1))) ? k + 1 : k - 1;
    int prev_x = d == 0 ? 0 : at(prev_k);
    int prev_y = d == 0 ? 0 : prev_x - prev_k;
    while (x > prev_x && y > prev_y) {
      ops.push_back(Op::kEqual);
      --x, --y;
    }
    if (d > 0) ops.push_back(x == prev_x ? Op::kInsert : Op::kDelete);
    x = prev_x, y = prev_y;
  }
  std::reverse(ops.begin(), ops.end());
  return ops;
}

std::vector<Op> Script(const std::vector<std::string_view>& a, const std::vector<std::string_view>& b) {
  std::size_t head = 0;
  while (head < a.size() && head < b.size() && a[head] == b[head]) ++head;
  std::size_t tail = 0;
  while (tail < a.size() - head && tail < b.size() - head &&
         a[a.size() - 1 - tail] == b[b.size() - 1 - tail]) {
    ++tail;
  }
  std::vector<std::string_view> ma(a.begin() + head, a.end() - tail);
  std::vector<std::string_view> mb(b.begin() + head, b.end() - tail);
  std::vector<Op> ops(head, Op::kEqual);
  std::optional<std::vector<Op>> middle = Myers(ma, mb);
  if (middle) {
    ops.insert(ops.end(), middle->begin(), middle->end());
  } else {
    ops.insert(ops.end(), ma.size(), Op::kDelete);
    ops.insert(ops.end(), mb.size(), Op::kInsert);
  }
  ops.insert(ops.end(), tail, Op::kEqual);
  return ops;
}

std::string Range(std::size_t start, std::size_t count) {
  // diff -u: the line before an empty range; ",1" is left out.
  if (count == 0) return absl::StrCat(start, ",0");
  if (count == 1) return absl::StrCat(start + 1);
  return absl::StrCat(start + 1, ",", count);
}

}  // namespace

std::string UnifiedDiff(const std::optional<std::string>& before, const std::optional<std::string>& after,
                        std::string_view path, const DiffOptions& options) {
  if (before == after) return "";
  const char* bold = options.colour ? "\033[1m" : "";
  const char* cyan = options.colour ? "\033[36m" : "";
  const char* red = options.colour ? "\033[31m" : "";
  const char* green = options.colour ? "\033[32m" : "";
  const char* reset = options.colour ? "\033[m" : "";
  const std::string old_name = before ? absl::StrCat("a/", std::string(path)) : "/dev/null";
  const std::string new_name = after ? absl::StrCat("b/", std::string(path)) : "/dev/null";
  if (Binary(before) || Binary(after)) {
    return absl::StrCat("Binary files ", old_name, " and ", new_name, " differ\n");
  }
  std::string out = absl::StrCat(bold, "--- ", old_name, reset, "\n", bold, "+++ ", new_name, reset, "\n");
  const std::vector<std::string_view> a = Lines(before);
  const std::vector<std::string_view> b = Lines(after);
  const std::vector<Op> ops = Script(a, b);
  // Positions in a and b before each op.
  std::vector<std::size_t> pa(ops.size() + 1), pb(ops.size() + 1);
  for (std::size_t i = 0; i < ops.size(); ++i) {
    pa[i + 1] = pa[i] + (ops[i] != Op::kInsert);
    pb[i + 1] = pb[i] + (ops[i] != Op::kDelete);
  }
  const std::size_t context = static_cast<std::size_t>(std::max(0, options.context));
  auto line = [&](std::string* o, const char* colour, char mark, std::string_view text) {
    const bool newline = !text.empty() && text.back() == '\n';
    if (newline) text.remove_suffix(1);
    absl::StrAppend(o, colour, std::string(1, mark), std::string(text), *colour ? reset : "", "\n");
    if (!newline) *o += "\\ No newline at end of file\n";
  };
  std::size_t i = 0;
  while (i < ops.size()) {
    while (i < ops.size() && ops[i] == Op::kEqual) ++i;
    if (i == ops.size()) break;
    const std::size_t begin = i >= context ? i - context : 0;
    std::size_t last = i;  // last change in the hunk
    for (std::size_t j = i; j < ops.size(); ++j) {
      if (ops[j] == Op::kEqual) {
        if (j - last > 2 * context) break;
      } else {
        last = j;
      }
    }
    const std::size_t end = std::min(ops.size(), last + 1 + context);
    absl::StrAppend(&out, cyan, "@@ -", Range(pa[begin], pa[end] - pa[begin]), " +",
                    Range(pb[begin], pb[end] - pb[begin]), " @@", reset, "\n");
    for (std::size_t j = begin; j < end; ++j) {
      switch (ops[j]) {
        case Op::kEqual: line(&out, "", ' ', a[pa[j]]); break;
        case Op::kDelete: line(&out, red, '-', a[pa[j]]); break;
        case Op::kInsert: line(&out, green, '+', b[pb[j]]); break;
      }
    }
    i = end;
  }
  return out;
}

DiffCounts CountChanges(const std::optional<std::string>& before, const std::optional<std::string>& after) {
  DiffCounts counts;
  if (Binary(before) || Binary(after)) {
    counts.binary = before != after;
    return counts;
  }
  for (Op op : Script(Lines(before), Lines(after))) {
    counts.added += op == Op::kInsert;
    counts.removed += op == Op::kDelete;
  }
  return counts;
}

std::string FormatDiffStat(const std::vector<StatLine>& files, int width) {
  if (files.empty()) return "";
  std::size_t name_width = 0;
  int most = 0, added = 0, removed = 0;
  for (const StatLine& f : files) {
    name_width = std::max(name_width, f.path.size());
    most = std::max(most, f.counts.added + f.counts.removed);
    added += f.counts.added;
    removed += f.counts.removed;
  }
  const std::size_t number_width = std::to_string(most).size();
  name_width = std::min<std::size_t>(name_width, std::max(10, width / 2));
  const int bar_room = std::max(
      5, width - static_cast<int>(name_width) - static_cast<int>(number_width) - 5);
  std::string out;
  for (const StatLine& f : files) {
    std::string name = f.path;
    if (name.size() > name_width) name = "..." + name.substr(name.size() - (name_width - 3));
    name.resize(name_width, ' ');
    if (f.counts.binary) {
      absl::StrAppend(&out, " ", name, " | Bin\n");
      continue;
    }
    const int total = f.counts.added + f.counts.removed;
    int plus = f.counts.added, minus = f.counts.removed;
    if (most > bar_room) {
      // Scaled, but a changed side keeps at least one mark.
      plus = f.counts.added == 0 ? 0 : std::max(1, f.counts.added * bar_room / most);
      minus = f.counts.removed == 0 ? 0 : std::max(1, f.counts.removed * bar_room / most);
    }
    std::string count = std::to_string(total);
    count.insert(0, number_width - count.size(), ' ');
    absl::StrAppend(&out, " ", name, " | ", count, " ", std::string(plus, '+'), std::string(minus, '-'),
                    "\n");
  }
  absl::StrAppend(&out, " ", files.size(), files.size() == 1 ? " file changed" : " files changed");
  if (added > 0 || removed == 0) {
    absl::StrAppend(&out, ", ", added, added == 1 ? " insertion(+)" : " insertions(+)");
  }
  if (removed > 0) absl::StrAppend(&out, ", ", removed, removed == 1 ? " deletion(-)" : " deletions(-)");
  out += "\n";
  return out;
}

}  // namespace aetherflow
