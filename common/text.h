// Display width of UTF-8 text in terminal columns, and cutting to a width.
// The original tool's users write descriptions in French (accents) and
// sometimes with wide characters (CJK, emoji), so bytes are not columns.
#ifndef AETHERFLOW_COMMON_TEXT_H_
#define AETHERFLOW_COMMON_TEXT_H_

#include <string>
#include <string_view>

namespace aetherflow {

// Columns `text` takes: combining marks 0, East Asian wide and emoji 2,
// others 1. Invalid UTF-8 bytes count 1 each. Control characters and ANSI
// escape sequences count 0.
int DisplayWidth(std::string_view text);

// `text` cut to at most `width` columns, ending with "…" (or "~" when
// !utf8) when cut; never splits a character. Newlines and tabs become
// spaces; other control characters and ANSI escape sequences (colours in a
// step's log) are dropped, so the result is safe to print anywhere.
std::string FitWidth(std::string_view text, int width, bool utf8 = true);

// `text` cut or padded with spaces to exactly `width` columns.
std::string PadWidth(std::string_view text, int width, bool utf8 = true);

}  // namespace aetherflow

#endif  // AETHERFLOW_COMMON_TEXT_H_
