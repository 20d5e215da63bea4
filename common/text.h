// Display width of UTF-8 text in terminal columns, and cutting to a width.
// The original tool's users write descriptions in French (accents) and
// sometimes with wide characters (CJK, emoji), so bytes are not columns.
#ifndef AETHERFLOW_COMMON_TEXT_H_
#define AETHERFLOW_COMMON_TEXT_H_

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace aetherflow {

// Columns `text` takes: combining marks 0, East Asian wide and emoji 2,
// others 1. Invalid UTF-8 bytes count 1 each. Control characters and ANSI
// escape sequences count 0.
int DisplayWidth(std::string_view text);

// `text` cut to at most `width` columns, ending with "…" (or "~" when
// !utf8) when cut; never splits a character. Newlines and tabs become
// spaces; other control characters and ANSI escape sequences (colours in a
// step's log) are dropped, so the result is safe to print anywhere. When
// !utf8 (a locale that is not UTF-8) the result is ASCII: each non-ASCII
// character becomes one "?" (zero-width ones, such as combining accents,
// are dropped), so that no terminal ever gets part of a character.
std::string FitWidth(std::string_view text, int width, bool utf8 = true);

// `text` cut or padded with spaces to exactly `width` columns.
std::string PadWidth(std::string_view text, int width, bool utf8 = true);

// Levenshtein distance between two byte strings: the fewest insertions,
// deletions and substitutions that turn one into the other.
std::size_t EditDistance(std::string_view a, std::string_view b);

// The first of `candidates` at the smallest edit distance from `word`, if
// that distance is at most `max_distance`; else "". Candidates whose length
// differs by more than `max_distance` are skipped unmeasured, so a huge
// `word` costs nothing.
std::string_view ClosestMatch(std::string_view word,
                              std::span<const std::string_view> candidates,
                              std::size_t max_distance);

// `argv` as one line a POSIX shell reads back as the same words: a word
// made only of letters, digits and @%+=:,./_- is bare, others are in single
// quotes ('' for an empty word; a ' inside as '\'').
// {"sh", "-c", "exit 3"} -> "sh -c 'exit 3'".
std::string ShellJoin(const std::vector<std::string>& argv);

}  // namespace aetherflow

#endif  // AETHERFLOW_COMMON_TEXT_H_
