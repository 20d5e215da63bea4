#include "daemon/syntax_check.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace aetherflow {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

void ExpectOk(std::string_view path, std::string_view content, std::string_view checker) {
  SyntaxCheckResult r = CheckSyntax(path, content);
  EXPECT_TRUE(r.ok) << path << ": " << r.reason << "\n" << r.output;
  EXPECT_EQ(r.checker, checker) << path;
}

SyntaxCheckResult ExpectBad(std::string_view path, std::string_view content, std::string_view checker) {
  SyntaxCheckResult r = CheckSyntax(path, content);
  EXPECT_FALSE(r.ok) << path;
  EXPECT_EQ(r.checker, checker) << path;
  EXPECT_THAT(r.reason, StartsWith(std::string(path) + ": " + std::string(checker) + ": "));
  EXPECT_EQ(r.reason.find('\n'), std::string::npos) << r.reason;
  return r;
}

bool Has(const char* checker) { return SyntaxCheckerFor(std::string("x.") + checker, "") == checker; }

TEST(SyntaxCheckTest, Python) {
  if (SyntaxCheckerFor("a.py", "").empty()) GTEST_SKIP() << "no python3";
  ExpectOk("src/a.py", "def f(x):\n    return x\n", "python3");
  SyntaxCheckResult r = ExpectBad("src/a.py", "def f(x):\n    return x\n\ndef g(:\n    pass\n", "python3");
  EXPECT_THAT(r.reason, HasSubstr("src/a.py: python3: 4:"));
  EXPECT_THAT(r.output, HasSubstr("def g(:"));
  ExpectBad("src/a.py", std::string("x = 1\0\n", 7), "python3");
}

TEST(SyntaxCheckTest, PythonWritesNothingBesideTheFile) {
  if (SyntaxCheckerFor("a.py", "").empty()) GTEST_SKIP() << "no python3";
  // The text comes on stdin: a path that does not exist is fine.
  ExpectOk("/nonexistent/dir/a.py", "x = 1\n", "python3");
}

TEST(SyntaxCheckTest, Json) {
  ExpectOk("package.json", "{\"name\": \"x\", \"list\": [1, 2]}\n", "json");
  ExpectOk("tsconfig.json", "{\n  // comments are allowed\n  \"strict\": true\n}\n", "json");
  SyntaxCheckResult r = ExpectBad("data.json", "{\n  \"a\": 1,\n}\n", "json");
  EXPECT_THAT(r.reason, HasSubstr("line 3"));
}

TEST(SyntaxCheckTest, Toml) {
  ExpectOk("pyproject.toml", "[project]\nname = \"x\"\n", "toml");
  SyntaxCheckResult r = ExpectBad("pyproject.toml", "[project]\nname = \n", "toml");
  EXPECT_THAT(r.reason, HasSubstr("line 2"));
}

TEST(SyntaxCheckTest, Yaml) {
  if (!Has("yaml")) GTEST_SKIP() << "no python3-yaml";
  ExpectOk("ci.yml", "a: 1\nb: [1, 2]\n---\nc: !Ref thing\n", "yaml");
  SyntaxCheckResult r = ExpectBad("ci.yaml", "a: [1, 2\nb: 3\n", "yaml");
  EXPECT_THAT(r.output, HasSubstr("ci.yaml"));
}

TEST(SyntaxCheckTest, Shell) {
  ExpectOk("run.sh", "if true; then echo hi; fi\n", "sh");
  ExpectBad("run.sh", "if true; then echo hi\n", "sh");
  ExpectOk("run.sh", "#!/bin/bash\n[[ -n x ]] && echo hi\n", "bash");
  SyntaxCheckResult r = ExpectBad("tools/build", "#!/usr/bin/env bash\nfor x in; do\n", "bash");
  EXPECT_THAT(r.output, Not(HasSubstr("bash: line"))) << r.output;
  EXPECT_EQ(SyntaxCheckerFor("tools/build", "#!/bin/sh\necho\n"), "sh");
  EXPECT_EQ(SyntaxCheckerFor("tools/build", "echo\n"), "");
}

TEST(SyntaxCheckTest, JavaScript) {
  if (SyntaxCheckerFor("a.js", "").empty()) GTEST_SKIP() << "no node";
  ExpectOk("a.js", "const x = 1;\nmodule.exports = x;\n", "node");
  ExpectOk("a.js", "import fs from 'fs';\nexport default fs;\n", "node");  // either kind
  ExpectOk("a.mjs", "export const x = 1;\n", "node");
  SyntaxCheckResult r = ExpectBad("src/a.js", "function f( {\n", "node");
  EXPECT_THAT(r.reason, HasSubstr("SyntaxError"));
  EXPECT_THAT(r.output, HasSubstr("src/a.js:"));
  EXPECT_THAT(r.output, Not(HasSubstr("[stdin]")));
}

TEST(SyntaxCheckTest, OtherFilesAreNotChecked) {
  SyntaxCheckResult r = CheckSyntax("README.md", "# anything [\n");
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.checker, "");
  EXPECT_EQ(SyntaxCheckerFor("Makefile", "all:\n"), "");
}

TEST(SyntaxCheckTest, OutputIsBounded) {
  if (SyntaxCheckerFor("a.py", "").empty()) GTEST_SKIP() << "no python3";
  std::string long_line = "x = (" + std::string(20000, '1') + "\n";
  SyntaxCheckResult r = CheckSyntax("a.py", long_line, {.timeout_ms = 10000, .max_output_bytes = 200});
  EXPECT_FALSE(r.ok);
  EXPECT_LT(r.output.size(), 300u);
  EXPECT_THAT(r.output, HasSubstr("more bytes"));
  EXPECT_LT(r.reason.size(), 400u);
}

}  // namespace
}  // namespace aetherflow
