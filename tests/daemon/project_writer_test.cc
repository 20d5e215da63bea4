#include "daemon/project_writer.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace aetherflow {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class ProjectWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/af-writer-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    project_ = base_ + "/project";
    record_ = base_ + "/runs/r1/changes/s1";
    outside_ = base_ + "/outside";
    fs::create_directories(project_ + "/src");
    fs::create_directories(outside_);
  }
  void TearDown() override {
    std::error_code ignored;
    fs::permissions(base_, fs::perms::all, ignored);
    fs::remove_all(base_, ignored);
  }

  ProjectWriter::Options Options() {
    ProjectWriter::Options o;
    o.project_dir = project_;
    o.record_dir = record_;
    return o;
  }
  void Put(const std::string& rel, const std::string& content) {
    fs::create_directories(fs::path(project_ + "/" + rel).parent_path());
    std::ofstream(project_ + "/" + rel, std::ios::binary) << content;
  }
  std::optional<std::string> Get(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  std::optional<std::string> GetP(const std::string& rel) { return Get(project_ + "/" + rel); }

  // Every name in the project, temporary files included.
  std::vector<std::string> Listing() {
    std::vector<std::string> names;
    for (const auto& e : fs::recursive_directory_iterator(project_)) {
      names.push_back(fs::relative(e.path(), project_).string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  PlannedWrite Planned(ProjectWriter& w, const std::string& rel, const std::string& content) {
    absl::StatusOr<ProjectFile> read = w.Read(rel);
    EXPECT_TRUE(read.ok()) << read.status();
    return PlannedWrite{rel, content, read.ok() ? read->stamp : FileStamp{}};
  }

  std::string base_, project_, record_, outside_;
};

TEST_F(ProjectWriterTest, ReadsExistingAndMissingFiles) {
  Put("src/a.py", "x = 1\n");
  ProjectWriter w(Options());
  absl::StatusOr<ProjectFile> a = w.Read("./src//a.py");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->path, "src/a.py");
  EXPECT_EQ(*a->content, "x = 1\n");
  EXPECT_EQ(a->stamp, StampOf(std::string("x = 1\n")));
  absl::StatusOr<ProjectFile> missing = w.Read("src/new/b.py");
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_FALSE(missing->content);
  EXPECT_FALSE(missing->stamp.exists);
}

TEST_F(ProjectWriterTest, AppliesAllFilesKeepsPreImagesAndRevertsByteForByte) {
  const std::string old_a = "line 1\r\nline 2 \t\n\xff binary-ish\n";
  Put("src/a.py", old_a);
  ::chmod((project_ + "/src/a.py").c_str(), 0751);
  ProjectWriter w(Options());
  std::vector<PlannedWrite> writes = {Planned(w, "src/a.py", "new a\n"), Planned(w, "pkg/sub/b.py", "new b\n")};
  absl::StatusOr<AppliedAttempt> applied = w.Apply(writes);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(*GetP("src/a.py"), "new a\n");
  EXPECT_EQ(*GetP("pkg/sub/b.py"), "new b\n");
  struct stat st;
  ASSERT_EQ(::stat((project_ + "/src/a.py").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0751u);  // the file's mode is kept
  EXPECT_EQ(Get(record_ + "/before/src/a.py"), old_a);
  EXPECT_FALSE(Get(record_ + "/before/pkg/sub/b.py"));  // did not exist
  EXPECT_EQ(Listing(), (std::vector<std::string>{"pkg", "pkg/sub", "pkg/sub/b.py", "src", "src/a.py"}));

  absl::StatusOr<std::vector<ProjectWriter::Change>> changes = w.Changes();
  ASSERT_TRUE(changes.ok()) << changes.status();
  ASSERT_EQ(changes->size(), 2u);
  EXPECT_EQ((*changes)[0].before, old_a);
  EXPECT_EQ((*changes)[0].now, "new a\n");
  EXPECT_FALSE((*changes)[1].before);

  // A later writer (after a restart) reverts from the record alone.
  ProjectWriter later(Options());
  ASSERT_TRUE(later.Revert().ok());
  EXPECT_EQ(*GetP("src/a.py"), old_a);
  EXPECT_FALSE(GetP("pkg/sub/b.py"));
  EXPECT_EQ(Listing(), (std::vector<std::string>{"src", "src/a.py"}));  // created folders gone
  ASSERT_EQ(::stat((project_ + "/src/a.py").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0751u);
  EXPECT_TRUE(later.Revert().ok());  // nothing left to revert
  EXPECT_TRUE(later.Changes()->empty());
}

TEST_F(ProjectWriterTest, RefusesDotDotAndAbsolutePaths) {
  ProjectWriter w(Options());
  for (const char* bad : {"../outside/x", "/etc/passwd", "src/../../x", ".git/hooks/pre-commit"}) {
    absl::StatusOr<AppliedAttempt> applied = w.Apply({{bad, "pwned", {}}});
    ASSERT_FALSE(applied.ok()) << bad;
    EXPECT_EQ(applied.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_FALSE(w.Read(bad).ok()) << bad;
  }
  EXPECT_TRUE(fs::is_empty(outside_));
}

TEST_F(ProjectWriterTest, RefusesSymlinksOutOfTheProject) {
  std::ofstream(outside_ + "/secret") << "secret\n";
  fs::create_directory_symlink(outside_, project_ + "/out");
  fs::create_symlink(outside_ + "/secret", project_ + "/src/link.py");
  ProjectWriter w(Options());
  for (const char* bad : {"out/new.py", "out/secret", "src/link.py"}) {
    absl::StatusOr<AppliedAttempt> applied = w.Apply({{bad, "pwned\n", StampOf(std::nullopt)}});
    ASSERT_FALSE(applied.ok()) << bad;
    EXPECT_EQ(applied.status().code(), absl::StatusCode::kFailedPrecondition) << bad;
    EXPECT_THAT(applied.status().message(), HasSubstr("leads out of the project")) << bad;
    EXPECT_THAT(applied.status().message(), HasSubstr(bad));
    EXPECT_FALSE(w.Read(bad).ok()) << bad;
  }
  EXPECT_EQ(*Get(outside_ + "/secret"), "secret\n");
  EXPECT_FALSE(Get(outside_ + "/new.py"));
}

TEST_F(ProjectWriterTest, FollowsSymlinksThatStayInside) {
  Put("real/a.py", "a\n");
  fs::create_directory_symlink(project_ + "/real", project_ + "/alias");
  fs::create_symlink("a.py", project_ + "/real/b.py");
  ProjectWriter w(Options());
  ASSERT_TRUE(w.Apply({Planned(w, "alias/b.py", "changed\n")}).ok());
  EXPECT_EQ(*GetP("real/a.py"), "changed\n");
  EXPECT_TRUE(fs::is_symlink(project_ + "/real/b.py"));  // the link stays a link
}

TEST_F(ProjectWriterTest, RefusesHardLinksToFilesOutside) {
  std::ofstream(outside_ + "/bashrc") << "alias ls=ls\n";
  ASSERT_EQ(::link((outside_ + "/bashrc").c_str(), (project_ + "/src/rc.sh").c_str()), 0);
  ProjectWriter w(Options());
  absl::StatusOr<AppliedAttempt> applied = w.Apply({{"src/rc.sh", "pwned\n", StampOf(std::string("alias ls=ls\n"))}});
  ASSERT_FALSE(applied.ok());
  EXPECT_THAT(applied.status().message(), HasSubstr("src/rc.sh has 2 hard links"));
  EXPECT_EQ(*Get(outside_ + "/bashrc"), "alias ls=ls\n");
  EXPECT_FALSE(w.Read("src/rc.sh").ok());
}

TEST_F(ProjectWriterTest, RefusesWhatIsNotARegularFile) {
  fs::create_directories(project_ + "/src/dir.py");
  ProjectWriter w(Options());
  absl::StatusOr<AppliedAttempt> applied = w.Apply({{"src/dir.py", "x\n", {}}});
  ASSERT_FALSE(applied.ok());
  EXPECT_THAT(applied.status().message(), HasSubstr("not a regular file"));
  Put("file", "x");
  applied = w.Apply({{"file/below.py", "x\n", {}}});
  ASSERT_FALSE(applied.ok());
}

TEST_F(ProjectWriterTest, FileChangedOnDiskSinceReadWritesNothingAndNamesIt) {
  Put("src/a.py", "a\n");
  Put("src/b.py", "b\n");
  ProjectWriter w(Options());
  std::vector<PlannedWrite> writes = {Planned(w, "src/a.py", "A\n"), Planned(w, "src/b.py", "B\n"),
                                      Planned(w, "src/c.py", "C\n")};
  Put("src/b.py", "b edited by the user\n");
  absl::StatusOr<AppliedAttempt> applied = w.Apply(writes);
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(applied.status().message(), "src/b.py changed on disk since the step read it; nothing was written");
  EXPECT_EQ(*GetP("src/a.py"), "a\n");
  EXPECT_EQ(*GetP("src/b.py"), "b edited by the user\n");
  EXPECT_FALSE(GetP("src/c.py"));
  // A file that appeared since it was read as missing counts too.
  Put("src/c.py", "made by someone\n");
  writes[1] = Planned(w, "src/b.py", "B\n");
  applied = w.Apply(writes);
  ASSERT_FALSE(applied.ok());
  EXPECT_THAT(applied.status().message(), HasSubstr("src/c.py changed on disk"));
  EXPECT_EQ(Listing(), (std::vector<std::string>{"src", "src/a.py", "src/b.py", "src/c.py"}));
}

TEST_F(ProjectWriterTest, RollbackPutsTheAttemptBackAndTheNextAttemptKeepsTheFirstPreImage) {
  Put("src/a.py", "original\n");
  ProjectWriter w(Options());
  absl::StatusOr<AppliedAttempt> first = w.Apply({Planned(w, "src/a.py", "attempt 1\n"),
                                                  Planned(w, "src/new/n.py", "n1\n")});
  ASSERT_TRUE(first.ok()) << first.status();
  Put("src/a.py", "reformatted by validate\n");  // rollback is unconditional
  ASSERT_TRUE(w.Rollback(*first).ok());
  EXPECT_EQ(*GetP("src/a.py"), "original\n");
  EXPECT_FALSE(GetP("src/new/n.py"));
  EXPECT_FALSE(fs::exists(project_ + "/src/new"));
  EXPECT_TRUE(w.Changes()->empty());

  absl::StatusOr<AppliedAttempt> second = w.Apply({Planned(w, "src/a.py", "attempt 2\n")});
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(*Get(record_ + "/before/src/a.py"), "original\n");
  ASSERT_TRUE(w.Revert().ok());
  EXPECT_EQ(*GetP("src/a.py"), "original\n");
}

// The folder of a created file removed by someone: the rollback removes
// nothing else (not a file of the same name higher up).
TEST_F(ProjectWriterTest, RollbackAfterTheCreatedFolderWentRemovesNothingElse) {
  Put("n.py", "keep me\n");
  ProjectWriter w(Options());
  absl::StatusOr<AppliedAttempt> applied = w.Apply({Planned(w, "pkg/n.py", "new\n")});
  ASSERT_TRUE(applied.ok()) << applied.status();
  fs::remove_all(project_ + "/pkg");
  EXPECT_TRUE(w.Rollback(*applied).ok());
  EXPECT_EQ(*GetP("n.py"), "keep me\n");
}

TEST_F(ProjectWriterTest, RevertRefusesNamingAFileChangedSince) {
  Put("src/a.py", "a\n");
  ProjectWriter w(Options());
  ASSERT_TRUE(w.Apply({Planned(w, "src/a.py", "A\n"), Planned(w, "src/b.py", "B\n")}).ok());
  Put("src/b.py", "B, then edited\n");
  absl::Status reverted = w.Revert();
  EXPECT_EQ(reverted.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(reverted.message(), "src/b.py has changed since the step wrote it; nothing was reverted");
  EXPECT_EQ(*GetP("src/a.py"), "A\n");  // all or nothing
  fs::remove(project_ + "/src/b.py");
  EXPECT_THAT(w.Revert().message(), HasSubstr("src/b.py has been removed since"));
}

// A rename that fails in the middle: what was renamed is undone.
TEST_F(ProjectWriterTest, FailureBetweenRenamesLeavesNone) {
  Put("a.txt", "a\n");
  Put("b.txt", "b\n");
  Put("c.txt", "c\n");
  for (int fail_at = 1; fail_at <= 3; ++fail_at) {
    ProjectWriter::Options o = Options();
    o.TEST_after_rename = [fail_at](int renamed) {
      return renamed == fail_at ? absl::UnavailableError("disk went away") : absl::OkStatus();
    };
    ProjectWriter w(o);
    absl::StatusOr<AppliedAttempt> applied =
        w.Apply({Planned(w, "a.txt", "A\n"), Planned(w, "d/new.txt", "D\n"), Planned(w, "c.txt", "C\n")});
    ASSERT_FALSE(applied.ok()) << fail_at;
    EXPECT_THAT(applied.status().message(), HasSubstr("nothing was changed"));
    EXPECT_EQ(*GetP("a.txt"), "a\n") << fail_at;
    EXPECT_EQ(*GetP("c.txt"), "c\n") << fail_at;
    EXPECT_EQ(Listing(), (std::vector<std::string>{"a.txt", "b.txt", "c.txt", "src"})) << fail_at;
    EXPECT_TRUE(w.Changes()->empty());
  }
}

// The process dies between two renames: Recover() undoes the half commit.
TEST_F(ProjectWriterTest, CrashBetweenRenamesIsUndoneByRecover) {
  Put("a.txt", "a\n");
  Put("c.txt", "c\n");
  ProjectWriter::Options o = Options();
  o.TEST_after_rename = [](int renamed) {
    return renamed == 2 ? ProjectWriter::TEST_crash() : absl::OkStatus();
  };
  ProjectWriter crashing(o);
  absl::StatusOr<AppliedAttempt> applied = crashing.Apply(
      {Planned(crashing, "a.txt", "A\n"), Planned(crashing, "d/new.txt", "D\n"), Planned(crashing, "c.txt", "C\n")});
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(*GetP("a.txt"), "A\n");  // half done, as a crash would leave it
  EXPECT_EQ(*GetP("d/new.txt"), "D\n");
  EXPECT_EQ(*GetP("c.txt"), "c\n");

  ProjectWriter restarted(Options());
  ASSERT_TRUE(restarted.Recover().ok());
  EXPECT_EQ(*GetP("a.txt"), "a\n");
  EXPECT_EQ(*GetP("c.txt"), "c\n");
  EXPECT_EQ(Listing(), (std::vector<std::string>{"a.txt", "c.txt", "src"}));  // no temporary file left
  EXPECT_TRUE(restarted.Recover().ok());  // idempotent
  EXPECT_TRUE(restarted.Revert().ok());
  EXPECT_EQ(*GetP("a.txt"), "a\n");
}

TEST_F(ProjectWriterTest, RecoverAfterACompleteCommitChangesNothing) {
  Put("a.txt", "a\n");
  ProjectWriter w(Options());
  ASSERT_TRUE(w.Apply({Planned(w, "a.txt", "A\n")}).ok());
  EXPECT_TRUE(w.Recover().ok());
  EXPECT_EQ(*GetP("a.txt"), "A\n");
}

TEST_F(ProjectWriterTest, RevertFailingBetweenRenamesLeavesTheStepsFiles) {
  Put("a.txt", "a\n");
  Put("b.txt", "b\n");
  ProjectWriter w(Options());
  ASSERT_TRUE(w.Apply({Planned(w, "a.txt", "A\n"), Planned(w, "b.txt", "B\n")}).ok());
  ProjectWriter::Options o = Options();
  o.TEST_after_rename = [](int renamed) {
    return renamed == 1 ? absl::UnavailableError("disk went away") : absl::OkStatus();
  };
  ProjectWriter failing(o);
  EXPECT_FALSE(failing.Revert().ok());
  EXPECT_EQ(*GetP("a.txt"), "A\n");
  EXPECT_EQ(*GetP("b.txt"), "B\n");
  ASSERT_TRUE(w.Revert().ok());
  EXPECT_EQ(*GetP("a.txt"), "a\n");
  EXPECT_EQ(*GetP("b.txt"), "b\n");
}

TEST_F(ProjectWriterTest, NewFilesAndFoldersGetTheSubmittersUmask) {
  ProjectWriter::Options o = Options();
  o.umask = 027;
  ProjectWriter w(o);
  ASSERT_TRUE(w.Apply({Planned(w, "pkg/new.py", "x\n")}).ok());
  struct stat st;
  ASSERT_EQ(::stat((project_ + "/pkg/new.py").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  ASSERT_EQ(::stat((project_ + "/pkg").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0750u);
}

// Run as root: the daemon acts with the submitter's file-system identity.
TEST_F(ProjectWriterTest, WritesWithTheSubmittersCredentials) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch identities";
  const uid_t user = 65534;
  ::chmod(base_.c_str(), 0755);
  Put("src/mine.py", "mine\n");
  Put("src/roots.py", "root's\n");
  ::chown(project_.c_str(), user, user);
  ::chown((project_ + "/src").c_str(), user, user);
  ::chown((project_ + "/src/mine.py").c_str(), user, user);
  ::chmod((project_ + "/src/roots.py").c_str(), 0644);
  fs::create_directories(record_);
  ::chown((base_ + "/runs").c_str(), user, user);
  ::chown((base_ + "/runs/r1").c_str(), user, user);
  ::chown((base_ + "/runs/r1/changes").c_str(), user, user);
  ::chown(record_.c_str(), user, user);
  // A folder the user may not enter.
  fs::create_directories(project_ + "/locked");
  ::chmod((project_ + "/locked").c_str(), 0700);

  ProjectWriter::Options o = Options();
  o.credentials = Credentials{user, user, {}};
  ProjectWriter w(o);
  absl::StatusOr<AppliedAttempt> applied = w.Apply({Planned(w, "src/mine.py", "edited\n"),
                                                    Planned(w, "src/made.py", "made\n")});
  ASSERT_TRUE(applied.ok()) << applied.status();
  struct stat st;
  ASSERT_EQ(::stat((project_ + "/src/made.py").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, user);
  EXPECT_EQ(*Get(record_ + "/before/src/mine.py"), "mine\n");
  ASSERT_EQ(::stat((record_ + "/before/src/mine.py").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, user);
  EXPECT_FALSE(w.Read("locked/x.py").ok());  // they cannot look in there
  EXPECT_EQ(::getuid(), 0u);                 // the thread is itself again
}

}  // namespace
}  // namespace aetherflow
