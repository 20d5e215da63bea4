#include "common/text.h"

#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"

namespace aetherflow {
namespace {

// The characters used below, spelled out so that the expected widths can be
// checked against the Unicode tables (EastAsianWidth.txt):
//   "é"  U+00E9, 2 bytes, width A(mbiguous) -> 1 outside CJK locales
//   "\u0301" COMBINING ACUTE ACCENT, 2 bytes, Mn -> 0
//   "日" "本" "語" U+65E5 U+672C U+8A9E, 3 bytes each, W -> 2
//   "한" U+D55C (Hangul syllable), 3 bytes, W -> 2
//   "Ａ" U+FF21 FULLWIDTH LATIN CAPITAL LETTER A, 3 bytes, F -> 2
//   "😀" U+1F600, "🚀" U+1F680, 4 bytes each, W -> 2
//   "…" U+2026, 3 bytes, A -> 1
const char kEllipsis[] = "\xe2\x80\xa6";  // "…"

bool IsContinuationByte(char c) {
  return (static_cast<unsigned char>(c) & 0xc0) == 0x80;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

TEST(TextTest, AsciiIsOneColumnPerByte) {
  EXPECT_EQ(DisplayWidth(""), 0);
  EXPECT_EQ(DisplayWidth("a"), 1);
  EXPECT_EQ(DisplayWidth("hello world"), 11);
  EXPECT_EQ(DisplayWidth("step_4  refactoring"), 19);
}

TEST(TextTest, FrenchAccentsPrecomposed) {
  EXPECT_EQ(std::string("é").size(), 2u);
  EXPECT_EQ(DisplayWidth("é"), 1);
  // C a f é ␠ c r è m e
  EXPECT_EQ(DisplayWidth("Café crème"), 10);
  EXPECT_EQ(DisplayWidth("Générer la documentation"), 24);
}

TEST(TextTest, FrenchAccentsDecomposed) {
  // "e" followed by a combining acute accent shows as one "é".
  EXPECT_EQ(DisplayWidth("e\u0301"), 1);
  EXPECT_EQ(DisplayWidth("Cafe\u0301"), 4);
  // Both spellings of the same word take the same columns.
  EXPECT_EQ(DisplayWidth("re\u0301sume\u0301"), DisplayWidth("résumé"));
}

TEST(TextTest, EastAsianWideCharactersAreTwoColumns) {
  EXPECT_EQ(std::string("日本語").size(), 9u);
  EXPECT_EQ(DisplayWidth("日本語"), 6);
  EXPECT_EQ(DisplayWidth("한국어"), 6);
  EXPECT_EQ(DisplayWidth("Ａ"), 2);
  EXPECT_EQ(DisplayWidth("a日b"), 4);
}

TEST(TextTest, EmojiAreTwoColumns) {
  EXPECT_EQ(std::string("😀").size(), 4u);
  EXPECT_EQ(DisplayWidth("😀"), 2);
  EXPECT_EQ(DisplayWidth("🚀"), 2);
  // R é s u m é ␠ 日 本 ␠ 🚀 = 6 + 1 + 4 + 1 + 2
  EXPECT_EQ(DisplayWidth("Résumé 日本 🚀"), 14);
}

TEST(TextTest, WideEmojiOutsideThePictographBlocks) {
  EXPECT_EQ(DisplayWidth("\u26a1"), 2);      // ⚡ HIGH VOLTAGE SIGN, W
  EXPECT_EQ(DisplayWidth("\u2705"), 2);      // ✅ WHITE HEAVY CHECK MARK, W
  EXPECT_EQ(DisplayWidth("\u274c"), 2);      // ❌ CROSS MARK, W
  EXPECT_EQ(DisplayWidth("\u2b50"), 2);      // ⭐ WHITE MEDIUM STAR, W
  EXPECT_EQ(DisplayWidth("\U0001fa84"), 2);  // 🪄 MAGIC WAND, W
}

TEST(TextTest, NarrowSymbolsAreOneColumn) {
  // The status symbols of SPEC §5 and the ellipsis: N or A in
  // EastAsianWidth.txt, one column in a UTF-8 (non-CJK) terminal.
  EXPECT_EQ(DisplayWidth("✓"), 1);  // U+2713
  EXPECT_EQ(DisplayWidth("⟳"), 1);  // U+27F3
  EXPECT_EQ(DisplayWidth("✗"), 1);  // U+2717
  EXPECT_EQ(DisplayWidth("○"), 1);  // U+25CB
  EXPECT_EQ(DisplayWidth("⊘"), 1);  // U+2298
  EXPECT_EQ(DisplayWidth(kEllipsis), 1);
}

TEST(TextTest, ControlCharactersTakeNoColumns) {
  EXPECT_EQ(DisplayWidth("\t"), 0);
  EXPECT_EQ(DisplayWidth("a\nb"), 2);
  EXPECT_EQ(DisplayWidth("\x7f"), 0);
}

TEST(TextTest, InvalidUtf8BytesAreOneColumnEach) {
  EXPECT_EQ(DisplayWidth("\xff"), 1);
  EXPECT_EQ(DisplayWidth("\xfe\xff"), 2);
  EXPECT_EQ(DisplayWidth("a\xff" "b"), 3);
  // A lead byte cut off at the end of the text.
  EXPECT_EQ(DisplayWidth("ab\xc3"), 3);
  // A lead byte followed by a non-continuation byte: two characters.
  EXPECT_EQ(DisplayWidth("\xc3("), 2);
}

TEST(TextTest, StrayContinuationBytesAreOneColumnEach) {
  EXPECT_EQ(DisplayWidth("\x80"), 1);
  EXPECT_EQ(DisplayWidth("\x85"), 1);
  EXPECT_EQ(DisplayWidth("\x9f"), 1);
  EXPECT_EQ(DisplayWidth("\xe6\x97"), 2);  // the first 2 of 日's 3 bytes
}

TEST(TextTest, FitWidthLeavesFittingTextUnchanged) {
  EXPECT_EQ(FitWidth("hello", 5), "hello");
  EXPECT_EQ(FitWidth("hello", 80), "hello");
  EXPECT_EQ(FitWidth("日本語", 6), "日本語");
  EXPECT_EQ(FitWidth("Café crème", 10), "Café crème");
  EXPECT_EQ(FitWidth("Cafe\u0301", 4), "Cafe\u0301");
  EXPECT_EQ(FitWidth("", 5), "");
}

TEST(TextTest, FitWidthCutsWithEllipsis) {
  // 8 columns: 7 of the text, 1 for "…".
  EXPECT_EQ(FitWidth("hello world", 8), std::string("hello w") + kEllipsis);
  EXPECT_EQ(FitWidth("hello world", 10), std::string("hello wor") + kEllipsis);
  // "Café " is 5 columns (6 bytes); the ellipsis makes 6.
  EXPECT_EQ(FitWidth("Café crème brûlée", 6), std::string("Café ") + kEllipsis);
}

TEST(TextTest, FitWidthCutsWithTildeInAscii) {
  EXPECT_EQ(FitWidth("hello world", 8, /*utf8=*/false), "hello w~");
  EXPECT_EQ(FitWidth("hello", 5, /*utf8=*/false), "hello");
}

TEST(TextTest, FitWidthNeverSplitsAWideCharacter) {
  // 5 columns: "日本" (4) + "…" (1).
  EXPECT_EQ(FitWidth("日本語", 5), std::string("日本") + kEllipsis);
  // 4 columns: "日本" would leave no room for the ellipsis, and half of 本
  // cannot be shown: "日" + "…" is 3 columns.
  EXPECT_EQ(FitWidth("日本語", 4), std::string("日") + kEllipsis);
  EXPECT_EQ(FitWidth("🚀🚀🚀", 5), std::string("🚀🚀") + kEllipsis);
  EXPECT_EQ(FitWidth("🚀🚀🚀", 4), std::string("🚀") + kEllipsis);
}

TEST(TextTest, FitWidthKeepsACombiningMarkWithItsBase) {
  // C a f e ◌́ ␠ n o i r: "Cafe" + accent is 4 columns, + "…" = 5.
  EXPECT_EQ(FitWidth("Cafe\u0301 noir", 5), std::string("Cafe\u0301") + kEllipsis);
}

TEST(TextTest, FitWidthResultNeverExceedsWidthNorSplitsACharacter) {
  const std::vector<std::string> texts = {
      "hello world, a longer description",
      "Générer la documentation de l'API en français",
      "Re\u0301sume\u0301 des re\u0301sultats",
      "日本語のテキストを翻訳する",
      "mixed 日本 and é and 🚀 rockets 😀",
      "🚀🚀🚀🚀🚀🚀",
      "a\tb\nc\r\nd",
  };
  for (bool utf8 : {true, false}) {
    for (const std::string& text : texts) {
      for (int width = 0; width <= 50; ++width) {
        SCOPED_TRACE(testing::Message() << "'" << text << "' width " << width
                                        << " utf8 " << utf8);
        std::string fit = FitWidth(text, width, utf8);
        EXPECT_LE(DisplayWidth(fit), width);
        const std::string mark = utf8 ? kEllipsis : "~";
        // In ASCII mode the text shows as its ASCII form, one "?" per
        // non-ASCII character; the same contract holds on that form.
        const std::string source = utf8 ? text : FitWidth(text, 1 << 20, false);
        std::string body = fit;
        if (EndsWith(fit, mark) && !EndsWith(source, mark)) {
          body = fit.substr(0, fit.size() - mark.size());
        }
        // The kept part is a prefix of the text (blanks aside) that ends on
        // a character boundary.
        ASSERT_LE(body.size(), source.size());
        for (std::size_t i = 0; i < body.size(); ++i) {
          if (body[i] == ' ' && (source[i] == '\t' || source[i] == '\n' ||
                                 source[i] == '\r')) {
            continue;
          }
          ASSERT_EQ(body[i], source[i]) << "at byte " << i;
        }
        if (body.size() < source.size()) {
          EXPECT_FALSE(IsContinuationByte(source[body.size()]))
              << "cut inside a character at byte " << body.size();
        }
        // Cut exactly when the text (blanks counting 1) is wider.
        bool cut = body.size() < source.size();
        if (cut && width > 0) {
          EXPECT_TRUE(EndsWith(fit, mark));
        }
        if (!utf8) {
          for (char c : fit) ASSERT_LT(static_cast<unsigned char>(c), 0x80) << fit;
        }
      }
    }
  }
}

TEST(TextTest, FitWidthTurnsNewlinesAndTabsIntoSpaces) {
  EXPECT_EQ(FitWidth("a\nb\tc", 10), "a b c");
  EXPECT_EQ(FitWidth("line1\r\nline2", 20), "line1  line2");
  // Even when the text is short enough already.
  EXPECT_EQ(FitWidth("a\nb", 3), "a b");
  // And when it is cut: "one two" then "…".
  EXPECT_EQ(FitWidth("one\ntwo\nthree", 8), std::string("one two") + kEllipsis);
}

TEST(TextTest, FitWidthZeroAndNegative) {
  EXPECT_EQ(FitWidth("hello", 0), "");
  EXPECT_EQ(FitWidth("日本語", 0), "");
  EXPECT_EQ(FitWidth("", 0), "");
  EXPECT_EQ(FitWidth("hello", -3), "");
}

TEST(TextTest, FitWidthOne) {
  EXPECT_EQ(FitWidth("a", 1), "a");
  EXPECT_EQ(FitWidth("é", 1), "é");
  EXPECT_EQ(FitWidth("hello", 1), kEllipsis);
  EXPECT_EQ(FitWidth("hello", 1, /*utf8=*/false), "~");
  // A wide character cannot show in one column at all.
  EXPECT_EQ(FitWidth("日", 1), kEllipsis);
  // In ASCII it is one "?", which fits.
  EXPECT_EQ(FitWidth("🚀", 1, /*utf8=*/false), "?");
}

TEST(TextTest, PadWidthPadsToExactWidth) {
  EXPECT_EQ(PadWidth("ab", 5), "ab   ");
  EXPECT_EQ(PadWidth("", 3), "   ");
  // 日本 is 4 columns, so 2 spaces, not 6 - 6 bytes = 0.
  EXPECT_EQ(PadWidth("日本", 6), "日本  ");
  // é is 1 column in 2 bytes: 2 spaces.
  EXPECT_EQ(PadWidth("é", 3), "é  ");
  EXPECT_EQ(PadWidth("e\u0301", 3), "e\u0301  ");
  EXPECT_EQ(PadWidth("exact", 5), "exact");
}

TEST(TextTest, PadWidthCutsWhenTooWide) {
  EXPECT_EQ(PadWidth("hello world", 5), std::string("hell") + kEllipsis);
  // "日本" + "…" is exactly 5.
  EXPECT_EQ(PadWidth("日本語", 5), std::string("日本") + kEllipsis);
  // "日" + "…" is 3 columns: one space makes 4.
  EXPECT_EQ(PadWidth("日本語", 4), std::string("日") + kEllipsis + " ");
  EXPECT_EQ(PadWidth("hello", 0), "");
}

TEST(TextTest, PadWidthIsAlwaysExactlyTheWidth) {
  for (const std::string text :
       {"", "x", "Café crème", "日本語テキスト", "🚀 launch", "Re\u0301sume\u0301"}) {
    for (int width = 0; width <= 20; ++width) {
      EXPECT_EQ(DisplayWidth(PadWidth(text, width)), width)
          << "'" << text << "' width " << width;
      EXPECT_EQ(DisplayWidth(PadWidth(text, width, /*utf8=*/false)), width)
          << "'" << text << "' width " << width << " ascii";
    }
  }
}

}  // namespace
}  // namespace aetherflow

namespace aetherflow {
namespace {

TEST(TextEscapeTest, ColourCodesTakeNoColumnsAndAreDroppedWhenFitting) {
  const std::string red = "\033[31mERROR\033[0m disk full";
  EXPECT_EQ(DisplayWidth(red), 15);  // "ERROR disk full"
  std::string fitted = FitWidth(red, 80);
  EXPECT_EQ(fitted, "ERROR disk full");
  EXPECT_EQ(fitted.find('\033'), std::string::npos);
  EXPECT_EQ(FitWidth("\033]0;title\a" "ok\x07\x01", 10), "ok");
}

}  // namespace
}  // namespace aetherflow

namespace aetherflow {
namespace {

// Issue 18: under LANG=C a description is never garbled ("na  ve caf"):
// one "?" per character, a combining accent dropped with nothing split.
TEST(TextAsciiTest, NonAsciiCharactersBecomeOneQuestionMarkEach) {
  EXPECT_EQ(FitWidth("naïve café", 40, /*utf8=*/false), "na?ve caf?");
  EXPECT_EQ(FitWidth("日本語 🚀", 40, /*utf8=*/false), "??? ?");
  EXPECT_EQ(FitWidth("Cafe\u0301", 40, /*utf8=*/false), "Cafe");
  EXPECT_EQ(FitWidth("ab\xff" "cd", 40, /*utf8=*/false), "ab?cd");  // invalid byte
  // Cut by columns of the result: "na?ve" + "~".
  EXPECT_EQ(FitWidth("naïve café", 6, /*utf8=*/false), "na?ve~");
  EXPECT_EQ(PadWidth("été", 5, /*utf8=*/false), "?t?  ");
  // UTF-8 locales keep the characters.
  EXPECT_EQ(FitWidth("naïve café", 40), "naïve café");
}

TEST(TextEditDistanceTest, CountsInsertionsDeletionsAndSubstitutions) {
  EXPECT_EQ(EditDistance("", ""), 0u);
  EXPECT_EQ(EditDistance("run", "run"), 0u);
  EXPECT_EQ(EditDistance("dependecies", "dependencies"), 1u);
  EXPECT_EQ(EditDistance("lss", "ls"), 1u);
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
  EXPECT_EQ(EditDistance("", "abc"), 3u);
}

TEST(TextEditDistanceTest, ClosestMatchWithinTheDistanceOnly) {
  const std::vector<std::string_view> commands = {"run", "submit", "ls", "logs"};
  EXPECT_EQ(ClosestMatch("lss", commands, 1), "ls");
  EXPECT_EQ(ClosestMatch("sumbit", commands, 2), "submit");
  EXPECT_EQ(ClosestMatch("deploy", commands, 2), "");
  EXPECT_EQ(ClosestMatch(std::string(100'000, 'x'), commands, 2), "");
}

// Issue 18: `Plan: sh -c exit 3` lost the quotes.
TEST(TextShellJoinTest, QuotesAsAShellReadsItBack) {
  EXPECT_EQ(ShellJoin({"sh", "-c", "exit 3"}), "sh -c 'exit 3'");
  EXPECT_EQ(ShellJoin({"python", "train.py", "--lr=3e-4", "out/a.txt"}),
            "python train.py --lr=3e-4 out/a.txt");
  EXPECT_EQ(ShellJoin({"echo", "", "it's", "$HOME", "a*b"}),
            "echo '' 'it'\\''s' '$HOME' 'a*b'");
  EXPECT_EQ(ShellJoin({}), "");
}

}  // namespace
}  // namespace aetherflow
