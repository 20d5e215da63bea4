// Writing an LLM step's edits into the project (SPEC §11), safely:
//
// * only inside the project: paths are checked by NormalizeProjectPath, a
//   symbolic link is followed only when it leads to a place inside the
//   project, a file with other hard links (st_nlink > 1, possibly outside)
//   or that is not a regular file is refused, and every file is reached
//   through a directory descriptor checked to be inside;
// * atomic per attempt: every new content goes to a temporary file in the
//   target's own directory (fsync'd), then all are renamed into place; when
//   one rename fails, those done are undone, so a failure leaves all of
//   the attempt or none; a crash between renames leaves a journal that
//   Recover() undoes;
// * the pre-image of every file (or the fact that it did not exist) is kept
//   in the step's record folder (runs/<id>/changes/<step>/) before its
//   first write, so that Revert() can put it back byte for byte;
// * a file changed on disk since the step read it (size and content hash)
//   fails the attempt, naming the file, before anything is written.
//
// Every file operation is done with the submitter's file-system identity
// (ScopedFileIdentity) and, for files and folders it creates, their umask,
// as LLM answer files are written. Not thread-safe: one writer per step,
// used from one thread at a time (a worker, never the engine thread).
#ifndef AETHERFLOW_DAEMON_PROJECT_WRITER_H_
#define AETHERFLOW_DAEMON_PROJECT_WRITER_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "daemon/identity.h"

namespace aetherflow {

// What a file was when it was read: enough to see that it changed.
struct FileStamp {
  bool exists = false;
  uint64_t size = 0;
  uint64_t hash = 0;  // FNV-1a 64 of the content
  bool operator==(const FileStamp&) const = default;
};
FileStamp StampOf(const std::optional<std::string>& content);

// A project file as a step read it.
struct ProjectFile {
  std::string path;                    // normalised project path
  std::optional<std::string> content;  // nullopt: the file does not exist
  FileStamp stamp;
};

// One file of an attempt: its new content, and how it was when read.
struct PlannedWrite {
  std::string path;  // as in context.files; normalised again here
  std::string content;
  FileStamp read;
};

// What Apply() did, for Rollback().
struct AppliedAttempt {
  struct File {
    std::string path;
    std::optional<std::string> before;  // nullopt: the attempt created it
  };
  std::vector<File> files;
  std::vector<std::string> created_dirs;  // project paths, parents first
};

class ProjectWriter {
 public:
  struct Options {
    std::string project_dir;  // the directory `submit` ran in
    // runs/<id>/changes/<step>; created when needed, with `credentials`: a
    // root daemon first makes runs/<id>/changes the submitter's, as
    // RunLayout::MakeOutputDir does for the output folder.
    std::string record_dir;
    std::optional<Credentials> credentials;  // nullopt: the daemon's own
    std::optional<mode_t> umask;             // nullopt: the daemon's own
    // Files larger than this are refused (read or written).
    uint64_t max_file_bytes = 64 * 1024 * 1024;
    // TEST_: called after the k-th rename (1-based) of a commit (Apply,
    // Rollback, Revert). An error is handled as a failed rename: what was
    // renamed is undone. TEST_crash makes the writer stop right there, as
    // if the process died (no undo, the journal stays).
    std::function<absl::Status(int renamed)> TEST_after_rename;
  };
  explicit ProjectWriter(Options options);
  ~ProjectWriter();
  ProjectWriter(const ProjectWriter&) = delete;
  ProjectWriter& operator=(const ProjectWriter&) = delete;

  // The file as the step sees it, after the same checks as a write
  // (InvalidArgumentError for a bad path, FailedPreconditionError for a
  // symbolic link out of the project, another hard link, not a regular
  // file, too large). A missing file is not an error (content nullopt).
  absl::StatusOr<ProjectFile> Read(std::string_view path) const;

  // Writes all of `writes` or none. FailedPreconditionError naming the file
  // when one changed since it was read ("... changed on disk since the step
  // read it; nothing was written"), and the errors of Read(). The first time
  // a file is written by this step, its pre-image goes to the record folder
  // first.
  absl::StatusOr<AppliedAttempt> Apply(const std::vector<PlannedWrite>& writes);

  // Puts back what `attempt` replaced (created files removed, then the
  // folders it created when empty), all or nothing. Unconditional: the
  // attempt's files are the step's own until it ends (validation commands
  // may have reformatted them).
  absl::Status Rollback(const AppliedAttempt& attempt);

  // Puts every file the step changed back as it was before the step (byte
  // for byte; files it created removed), from the record folder; all or
  // nothing. FailedPreconditionError naming the file when one is not what
  // the step left (changed since). OK and nothing done when the step left
  // nothing in place.
  absl::Status Revert();

  // After a crash in the middle of a commit (a journal in the record
  // folder): every file of that commit goes back to what it was before it,
  // unless it has been changed since by someone else (then it is left and
  // named in the error). OK when there is nothing to recover.
  absl::Status Recover();

  // The files the step changed and left in place, with their pre-image
  // (nullopt: created by the step) and current content, for a diff.
  struct Change {
    std::string path;
    std::optional<std::string> before;
    std::optional<std::string> now;
  };
  absl::StatusOr<std::vector<Change>> Changes() const;

  static absl::Status TEST_crash();  // the status TEST_after_rename returns

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aetherflow

#endif  // AETHERFLOW_DAEMON_PROJECT_WRITER_H_
