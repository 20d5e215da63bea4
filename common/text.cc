#include "common/text.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace aetherflow {
namespace {

// Decodes one UTF-8 character at text[*i]; advances *i. Invalid bytes
// decode as themselves (one byte).
constexpr char32_t kInvalid = 0xFFFD;

char32_t Decode(std::string_view text, std::size_t* i) {
  unsigned char c = static_cast<unsigned char>(text[*i]);
  int extra = c < 0x80            ? 0
              : (c & 0xe0) == 0xc0 ? 1
              : (c & 0xf0) == 0xe0 ? 2
              : (c & 0xf8) == 0xf0 ? 3
                                   : -1;
  // An invalid byte stands for itself, one column wide (U+FFFD's width),
  // never for a C1 control.
  if (extra < 0 || (extra > 0 && *i + extra >= text.size())) {
    ++*i;
    return kInvalid;
  }
  if (extra == 0) {
    ++*i;
    return c;
  }
  char32_t cp = c & (0x3f >> extra);
  for (int k = 1; k <= extra; ++k) {
    unsigned char next = static_cast<unsigned char>(text[*i + k]);
    if ((next & 0xc0) != 0x80) {
      ++*i;
      return kInvalid;
    }
    cp = (cp << 6) | (next & 0x3f);
  }
  *i += extra + 1;
  return cp;
}

// If text[i] starts an ANSI escape sequence (a colour from a step's log),
// returns the index just past it; else i.
std::size_t SkipEscape(std::string_view text, std::size_t i) {
  if (text[i] != '\033') return i;
  std::size_t j = i + 1;
  if (j >= text.size()) return j;
  if (text[j] == '[') {  // CSI: parameters, then a final byte @..~
    for (++j; j < text.size(); ++j) {
      unsigned char c = static_cast<unsigned char>(text[j]);
      if (c >= 0x40 && c <= 0x7e) return j + 1;
    }
    return j;
  }
  if (text[j] == ']') {  // OSC: up to BEL or ESC backslash
    for (++j; j < text.size(); ++j) {
      if (text[j] == '\a') return j + 1;
      if (text[j] == '\033' && j + 1 < text.size() && text[j + 1] == '\\') return j + 2;
    }
    return j;
  }
  return j + 1;  // a two-byte escape
}

int CharWidth(char32_t cp) {
  if (cp == 0 || cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) return 0;
  // Combining marks and zero-width characters.
  if ((cp >= 0x0300 && cp <= 0x036f) || (cp >= 0x1ab0 && cp <= 0x1aff) ||
      (cp >= 0x1dc0 && cp <= 0x1dff) || (cp >= 0x20d0 && cp <= 0x20ff) ||
      (cp >= 0xfe20 && cp <= 0xfe2f) || cp == 0x200b || cp == 0x200c ||
      cp == 0x200d || cp == 0x2060 || (cp >= 0xfe00 && cp <= 0xfe0f)) {
    return 0;
  }
  // Emoji with default emoji presentation outside the pictograph blocks
  // (East Asian Width W), e.g. ⚡ ✅ ❌ ⭐.
  static constexpr char32_t kWideSymbols[][2] = {
      {0x231a, 0x231b}, {0x23e9, 0x23ec}, {0x23f0, 0x23f0}, {0x23f3, 0x23f3},
      {0x25fd, 0x25fe}, {0x2614, 0x2615}, {0x2648, 0x2653}, {0x267f, 0x267f},
      {0x2693, 0x2693}, {0x26a1, 0x26a1}, {0x26aa, 0x26ab}, {0x26bd, 0x26be},
      {0x26c4, 0x26c5}, {0x26ce, 0x26ce}, {0x26d4, 0x26d4}, {0x26ea, 0x26ea},
      {0x26f2, 0x26f3}, {0x26f5, 0x26f5}, {0x26fa, 0x26fa}, {0x26fd, 0x26fd},
      {0x2705, 0x2705}, {0x270a, 0x270b}, {0x2728, 0x2728}, {0x274c, 0x274c},
      {0x274e, 0x274e}, {0x2753, 0x2755}, {0x2757, 0x2757}, {0x2795, 0x2797},
      {0x27b0, 0x27b0}, {0x27bf, 0x27bf}, {0x2b1b, 0x2b1c}, {0x2b50, 0x2b50},
      {0x2b55, 0x2b55}, {0x1f004, 0x1f004}, {0x1f0cf, 0x1f0cf},
      {0x1f18e, 0x1f18e}, {0x1f191, 0x1f19a}, {0x1f200, 0x1f251},
      {0x1f7e0, 0x1f7eb}, {0x1fa70, 0x1faff}};
  for (const auto& range : kWideSymbols) {
    if (cp >= range[0] && cp <= range[1]) return 2;
  }
  // East Asian Wide and Fullwidth, and emoji presentation.
  if ((cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0x303e) ||
      (cp >= 0x3041 && cp <= 0x33ff) || (cp >= 0x3400 && cp <= 0x4dbf) ||
      (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0xa000 && cp <= 0xa4cf) ||
      (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
      (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
      (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1f64f) ||
      (cp >= 0x1f900 && cp <= 0x1f9ff) || (cp >= 0x1f680 && cp <= 0x1f6ff) ||
      (cp >= 0x20000 && cp <= 0x3fffd)) {
    return 2;
  }
  return 1;
}

}  // namespace

int DisplayWidth(std::string_view text) {
  int width = 0;
  for (std::size_t i = 0; i < text.size();) {
    if (text[i] == '\033') {
      i = SkipEscape(text, i);
      continue;
    }
    width += CharWidth(Decode(text, &i));
  }
  return width;
}

std::string FitWidth(std::string_view text, int width, bool utf8) {
  if (width <= 0) return "";
  bool plain = true;
  for (char c : text) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || (!utf8 && u >= 0x80)) plain = false;
  }
  if (plain && DisplayWidth(text) <= width) return std::string(text);
  // Characters kept so far, with the width they end at, to back off and
  // make room for the ellipsis.
  std::string out;
  int used = 0;
  std::size_t keep_bytes = 0;  // out's length when the ellipsis still fits
  for (std::size_t i = 0; i < text.size();) {
    if (text[i] == '\033') {  // escape sequences are dropped, not counted
      i = SkipEscape(text, i);
      continue;
    }
    std::size_t start = i;
    char32_t cp = Decode(text, &i);
    bool blank = cp == '\n' || cp == '\t' || cp == '\r';
    if (!blank && (cp < 0x20 || cp == 0x7f)) continue;  // other controls too
    int w = blank ? 1 : CharWidth(cp);
    // Not UTF-8: one "?" per character, never its bytes.
    if (!utf8 && static_cast<unsigned char>(text[start]) >= 0x80) {
      if (w == 0) continue;
      w = 1;
    }
    if (used + w > width) {
      out.resize(keep_bytes);
      out.append(utf8 ? "…" : "~");
      return out;
    }
    if (blank) {
      out.push_back(' ');
    } else if (!utf8 && static_cast<unsigned char>(text[start]) >= 0x80) {
      out.push_back('?');
    } else {
      out.append(text.substr(start, i - start));
    }
    used += w;
    if (used <= width - 1) keep_bytes = out.size();
  }
  return out;
}

std::string PadWidth(std::string_view text, int width, bool utf8) {
  std::string out = FitWidth(text, width, utf8);
  int used = DisplayWidth(out);
  if (used < width) out.append(width - used, ' ');
  return out;
}

std::size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

std::string_view ClosestMatch(std::string_view word,
                              std::span<const std::string_view> candidates,
                              std::size_t max_distance) {
  std::string_view best;
  std::size_t best_distance = max_distance + 1;
  for (std::string_view candidate : candidates) {
    const std::size_t gap = word.size() > candidate.size()
                                ? word.size() - candidate.size()
                                : candidate.size() - word.size();
    if (gap >= best_distance) continue;  // at least `gap` edits
    const std::size_t d = EditDistance(word, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  return best;
}

std::string ShellJoin(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& word : argv) {
    if (!out.empty()) out.push_back(' ');
    const bool bare =
        !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
          const unsigned char u = static_cast<unsigned char>(c);
          return (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') ||
                 (u >= '0' && u <= '9') ||
                 std::string_view("@%+=:,./_-").find(c) != std::string_view::npos;
        });
    if (bare) {
      out.append(word);
      continue;
    }
    out.push_back('\'');
    for (char c : word) {
      if (c == '\'') {
        out.append("'\\''");
      } else {
        out.push_back(c);
      }
    }
    out.push_back('\'');
  }
  return out;
}

}  // namespace aetherflow
