#include "common/text.h"

#include <cstdint>

namespace aetherflow {
namespace {

// Decodes one UTF-8 character at text[*i]; advances *i. Invalid bytes
// decode as themselves (one byte).
char32_t Decode(std::string_view text, std::size_t* i) {
  unsigned char c = static_cast<unsigned char>(text[*i]);
  int extra = c < 0x80            ? 0
              : (c & 0xe0) == 0xc0 ? 1
              : (c & 0xf0) == 0xe0 ? 2
              : (c & 0xf8) == 0xf0 ? 3
                                   : -1;
  if (extra <= 0 || *i + extra >= text.size()) {
    ++*i;
    return c;
  }
  char32_t cp = c & (0x3f >> extra);
  for (int k = 1; k <= extra; ++k) {
    unsigned char next = static_cast<unsigned char>(text[*i + k]);
    if ((next & 0xc0) != 0x80) {
      ++*i;
      return c;
    }
    cp = (cp << 6) | (next & 0x3f);
  }
  *i += extra + 1;
  return cp;
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
  for (std::size_t i = 0; i < text.size();) width += CharWidth(Decode(text, &i));
  return width;
}

std::string FitWidth(std::string_view text, int width, bool utf8) {
  if (width <= 0) return "";
  if (DisplayWidth(text) <= width && text.find_first_of("\n\t\r") == text.npos) {
    return std::string(text);
  }
  // Characters kept so far, with the width they end at, to back off and
  // make room for the ellipsis.
  std::string out;
  int used = 0;
  std::size_t keep_bytes = 0;  // out's length when the ellipsis still fits
  for (std::size_t i = 0; i < text.size();) {
    std::size_t start = i;
    char32_t cp = Decode(text, &i);
    bool blank = cp == '\n' || cp == '\t' || cp == '\r';
    int w = blank ? 1 : CharWidth(cp);
    if (used + w > width) {
      out.resize(keep_bytes);
      out.append(utf8 ? "…" : "~");
      return out;
    }
    if (blank) {
      out.push_back(' ');
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

}  // namespace aetherflow
