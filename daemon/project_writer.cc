#include "daemon/project_writer.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/numbers.h"
#include "common/project_path.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace aetherflow {
namespace {

using Json = nlohmann::json;

constexpr char kManifest[] = "manifest.json";
constexpr char kJournal[] = "journal.json";
constexpr char kBefore[] = "before";
constexpr char kJournalFiles[] = "journal.d";

uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

absl::Status Errno(const std::string& what) { return absl::ErrnoToStatus(errno, what); }

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      Reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ~UniqueFd() { Reset(); }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

bool Inside(const std::string& path, const std::string& root) {
  if (root == "/") return true;
  return path == root || (absl::StartsWith(path, root) && path.size() > root.size() && path[root.size()] == '/');
}

std::optional<std::string> FdPath(int fd) {
  char buffer[PATH_MAX + 1];
  const std::string link = absl::StrCat("/proc/self/fd/", fd);
  ssize_t n = ::readlink(link.c_str(), buffer, PATH_MAX);
  if (n <= 0) return std::nullopt;
  return std::string(buffer, static_cast<std::size_t>(n));
}

absl::Status WriteAll(int fd, std::string_view data, const std::string& what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno(absl::StrCat("cannot write ", what));
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFd(int fd, uint64_t max, const std::string& what) {
  std::string out;
  char buffer[65536];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno(absl::StrCat("cannot read ", what));
    }
    if (n == 0) break;
    out.append(buffer, static_cast<std::size_t>(n));
    if (out.size() > max) {
      return absl::FailedPreconditionError(absl::StrCat(what, " is larger than ", max, " bytes"));
    }
  }
  return out;
}

// The process's umask, read without changing it (umask() would, for every
// thread at once).
mode_t ProcessUmask() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (absl::StartsWith(line, "Umask:")) return static_cast<mode_t>(std::stoul(line.substr(6), nullptr, 8));
  }
  return 022;
}

std::string RandomSuffix() {
  static thread_local std::mt19937_64 random(std::random_device{}());
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string s;
  for (int i = 0; i < 8; ++i) s += kChars[random() % 36];
  return s;
}

Json StampJson(const FileStamp& s) {
  return Json{{"exists", s.exists}, {"size", s.size}, {"hash", absl::StrCat(s.hash)}};
}
FileStamp StampFromJson(const Json& j) {
  FileStamp s;
  s.exists = j.value("exists", false);
  s.size = j.value("size", uint64_t{0});
  if (!absl::SimpleAtoi(j.value("hash", std::string("0")), &s.hash)) s.hash = 0;
  return s;
}

// Plain file work in the record folder (the run's, owned by the submitter).
absl::Status MakeDirs(const std::string& dir, mode_t mode) {
  if (dir.empty()) return absl::OkStatus();
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) return absl::OkStatus();
  const std::size_t slash = dir.rfind('/');
  if (slash != std::string::npos && slash > 0) AF_RETURN_IF_ERROR(MakeDirs(dir.substr(0, slash), mode));
  if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST) return Errno(absl::StrCat("cannot create ", dir));
  return absl::OkStatus();
}

absl::Status WriteRecordFile(const std::string& path, std::string_view content) {
  const std::size_t slash = path.rfind('/');
  AF_RETURN_IF_ERROR(MakeDirs(path.substr(0, slash), 0700));
  const std::string tmp = absl::StrCat(path, ".tmp-", RandomSuffix());
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) return Errno(absl::StrCat("cannot write ", path));
  absl::Status written = WriteAll(fd.get(), content, path);
  if (written.ok() && ::fsync(fd.get()) != 0) written = Errno(absl::StrCat("cannot write ", path));
  if (written.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) written = Errno(absl::StrCat("cannot write ", path));
  if (!written.ok()) ::unlink(tmp.c_str());
  return written;
}

absl::StatusOr<std::optional<std::string>> ReadRecordFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) {
    if (errno == ENOENT) return std::optional<std::string>();
    return Errno(absl::StrCat("cannot read ", path));
  }
  AF_ASSIGN_OR_RETURN(std::string text, ReadFd(fd.get(), UINT64_MAX, path));
  return std::optional<std::string>(std::move(text));
}

}  // namespace

FileStamp StampOf(const std::optional<std::string>& content) {
  FileStamp s;
  if (!content) return s;
  s.exists = true;
  s.size = content->size();
  s.hash = Fnv1a(*content);
  return s;
}

absl::Status ProjectWriter::TEST_crash() { return absl::AbortedError("TEST_crash"); }

class ProjectWriter::Impl {
 public:
  explicit Impl(Options o) : o_(std::move(o)) {}

  // ---- resolving paths

  // Where a project file is: the deepest folder of its path that exists
  // (open, checked inside the project), the folders still to create under
  // it, and its name.
  struct Target {
    std::string path;  // normalised project path
    UniqueFd dir;
    std::vector<std::string> missing;
    std::string name;
    bool exists = false;
    struct stat st {};
  };

  absl::StatusOr<std::string> Root() const {
    char buffer[PATH_MAX];
    if (::realpath(o_.project_dir.c_str(), buffer) == nullptr) {
      return Errno(absl::StrCat("project directory ", o_.project_dir));
    }
    return std::string(buffer);
  }

  absl::StatusOr<Target> Resolve(std::string_view given) const {
    AF_ASSIGN_OR_RETURN(std::string path, NormalizeProjectPath(given));
    AF_ASSIGN_OR_RETURN(std::string root, Root());
    Target t;
    t.path = path;
    std::vector<std::string> parts = absl::StrSplit(path, '/');
    std::string current = root;
    std::size_t i = 0;
    for (; i < parts.size(); ++i) {
      const std::string next = absl::StrCat(current == "/" ? "" : current, "/", parts[i]);
      struct stat st;
      if (::lstat(next.c_str(), &st) != 0) {
        if (errno == ENOENT) break;
        return Errno(absl::StrCat("cannot look at ", path));
      }
      if (S_ISLNK(st.st_mode)) {
        char buffer[PATH_MAX];
        if (::realpath(next.c_str(), buffer) == nullptr) {
          return absl::FailedPreconditionError(absl::StrCat(
              path, ": the symbolic link ", absl::StrJoin(parts.begin(), parts.begin() + i + 1, "/"),
              " leads nowhere; aetherflow does not write through it"));
        }
        if (!Inside(buffer, root)) {
          return absl::FailedPreconditionError(absl::StrCat(
              path, ": the symbolic link ", absl::StrJoin(parts.begin(), parts.begin() + i + 1, "/"),
              " leads out of the project (to ", buffer, "); nothing is written there"));
        }
        current = buffer;
      } else {
        current = next;
      }
    }
    std::string parent;
    if (i == parts.size()) {
      const std::size_t slash = current.rfind('/');
      parent = slash == 0 ? "/" : current.substr(0, slash);
      t.name = current.substr(slash + 1);
    } else {
      parent = current;
      t.missing.assign(parts.begin() + i, parts.end() - 1);
      t.name = parts.back();
    }
    t.dir = UniqueFd(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!t.dir.valid()) {
      if (errno == ENOTDIR && i < parts.size()) {
        return absl::FailedPreconditionError(absl::StrCat(path, ": a part of the path is not a folder"));
      }
      return Errno(absl::StrCat("cannot open the folder of ", path));
    }
    // The folder checked once more through its descriptor: a folder swapped
    // for a link since the walk above is caught here.
    std::optional<std::string> real = FdPath(t.dir.get());
    if (!real || !Inside(*real, root)) {
      return absl::FailedPreconditionError(absl::StrCat(path, ": its folder is not inside the project"));
    }
    if (t.missing.empty()) {
      if (::fstatat(t.dir.get(), t.name.c_str(), &t.st, AT_SYMLINK_NOFOLLOW) == 0) {
        t.exists = true;
        if (!S_ISREG(t.st.st_mode)) {
          return absl::FailedPreconditionError(absl::StrCat(path, " is not a regular file"));
        }
        if (t.st.st_nlink > 1) {
          return absl::FailedPreconditionError(absl::StrCat(
              path, " has ", t.st.st_nlink,
              " hard links (another name, maybe outside the project, shares its content); "
              "aetherflow does not write it"));
        }
        if (static_cast<uint64_t>(t.st.st_size) > o_.max_file_bytes) {
          return absl::FailedPreconditionError(
              absl::StrCat(path, " is larger than ", o_.max_file_bytes, " bytes"));
        }
      } else if (errno != ENOENT) {
        return Errno(absl::StrCat("cannot look at ", path));
      }
    }
    return t;
  }

  absl::StatusOr<std::optional<std::string>> Content(const Target& t) const {
    if (!t.exists) return std::optional<std::string>();
    UniqueFd fd(::openat(t.dir.get(), t.name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) {
      if (errno == ENOENT) return std::optional<std::string>();
      return Errno(absl::StrCat("cannot read ", t.path));
    }
    AF_ASSIGN_OR_RETURN(std::string text, ReadFd(fd.get(), o_.max_file_bytes, t.path));
    return std::optional<std::string>(std::move(text));
  }

  // Creates the folders `t` is missing (umask applied), recording them as
  // project paths; `t.dir` becomes the file's own folder.
  absl::Status MakeFolders(Target& t, std::vector<std::string>* created, const std::string& root) {
    for (const std::string& part : t.missing) {
      const bool made = ::mkdirat(t.dir.get(), part.c_str(), 0700) == 0;
      if (!made && errno != EEXIST) return Errno(absl::StrCat("cannot create a folder for ", t.path));
      UniqueFd next(::openat(t.dir.get(), part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!next.valid()) return Errno(absl::StrCat("cannot create a folder for ", t.path));
      if (made) {
        if (::fchmod(next.get(), 0777 & ~Umask()) != 0) return Errno(absl::StrCat("cannot create a folder for ", t.path));
        std::optional<std::string> real = FdPath(next.get());
        if (real && Inside(*real, root) && *real != root) created->push_back(real->substr(root.size() + 1));
      }
      t.dir = std::move(next);
    }
    t.missing.clear();
    return absl::OkStatus();
  }

  mode_t Umask() const {
    if (o_.umask) return *o_.umask & 0777;
    static const mode_t process = ProcessUmask();
    return process;
  }

  // ---- the record folder

  std::string RecordPath(const std::string& rel) const { return absl::StrCat(o_.record_dir, "/", rel); }

  absl::StatusOr<Json> LoadManifest() const {
    AF_ASSIGN_OR_RETURN(std::optional<std::string> text, ReadRecordFile(RecordPath(kManifest)));
    if (!text) return Json{{"files", Json::array()}, {"created_dirs", Json::array()}, {"commit", 0}};
    Json j = Json::parse(*text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      return absl::DataLossError(absl::StrCat(RecordPath(kManifest), " is not valid JSON"));
    }
    return j;
  }

  absl::Status SaveManifest(const Json& manifest) const {
    return WriteRecordFile(RecordPath(kManifest), manifest.dump(1));
  }

  static Json* Entry(Json& manifest, const std::string& path) {
    for (Json& e : manifest["files"]) {
      if (e.value("path", "") == path) return &e;
    }
    return nullptr;
  }

  // Folders a step created, deepest first; rmdir leaves any that are not
  // empty.
  static void RemoveFolders(const std::string& root, const std::vector<std::string>& dirs) {
    for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) {
      ::rmdir(absl::StrCat(root, "/", *it).c_str());
    }
  }

  // ---- committing a set of changes, all or nothing

  struct Op {
    Target target;
    std::optional<std::string> content;  // nullopt: remove the file
    std::optional<std::string> undo;     // what was there; nullopt: nothing
    std::string tmp;                     // the temporary file, when content
  };

  // After a rollback or a recovery: a file back as it was before the step
  // has no "after"; one that is not keeps what it is now.
  static void NoteRestored(const std::vector<Op>& ops, Json& manifest) {
    for (const Op& op : ops) {
      Json* e = Entry(manifest, op.target.path);
      if (!e) continue;
      const FileStamp back = StampOf(op.content);
      (*e)["after"] = StampFromJson((*e)["before"]) == back ? Json(nullptr) : StampJson(back);
    }
  }

  // Writes the ops' temporary files, journals them, renames them into
  // place (or removes), undoing on failure; `finish` updates the manifest
  // (the commit point) before the journal goes.
  absl::Status Commit(std::vector<Op>& ops, std::vector<std::string>* created_dirs, Json& manifest,
                      const std::function<void(Json&)>& finish) {
    AF_ASSIGN_OR_RETURN(std::string root, Root());
    auto cleanup_tmps = [&] {
      for (Op& op : ops) {
        if (!op.tmp.empty()) ::unlinkat(op.target.dir.get(), op.tmp.c_str(), 0);
        op.tmp.clear();
      }
    };
    auto remove_dirs = [&](const std::vector<std::string>& dirs) { RemoveFolders(root, dirs); };
    std::vector<std::string> made;
    for (Op& op : ops) {
      if (!op.content) continue;
      absl::Status s = MakeFolders(op.target, &made, root);
      if (s.ok()) s = WriteTemp(op);
      if (!s.ok()) {
        cleanup_tmps();
        remove_dirs(made);
        return s;
      }
    }
    // The journal: what to undo if the process dies during the renames.
    const int64_t commit = manifest.value("commit", int64_t{0}) + 1;
    Json journal{{"commit", commit}, {"files", Json::array()}};
    for (std::size_t i = 0; i < ops.size(); ++i) {
      const Op& op = ops[i];
      Json e{{"path", op.target.path},
             {"new", StampJson(StampOf(op.content))},
             {"old", StampJson(StampOf(op.undo))},
             {"tmp", op.tmp}};
      // The old content is kept unless it is the pre-image already there.
      const Json* entry = Entry(manifest, op.target.path);
      const bool is_preimage = entry && StampFromJson((*entry)["before"]) == StampOf(op.undo);
      if (op.undo && !is_preimage) {
        const std::string file = absl::StrCat(kJournalFiles, "/", i);
        absl::Status s = WriteRecordFile(RecordPath(file), *op.undo);
        if (!s.ok()) {
          cleanup_tmps();
          remove_dirs(made);
          return s;
        }
        e["old_file"] = file;
      }
      journal["files"].push_back(std::move(e));
    }
    journal["created_dirs"] = made;
    if (absl::Status s = WriteRecordFile(RecordPath(kJournal), journal.dump()); !s.ok()) {
      cleanup_tmps();
      remove_dirs(made);
      return s;
    }
    for (std::size_t i = 0; i < ops.size(); ++i) {
      Op& op = ops[i];
      absl::Status s;
      if (op.content) {
        if (::renameat(op.target.dir.get(), op.tmp.c_str(), op.target.dir.get(), op.target.name.c_str()) != 0) {
          s = Errno(absl::StrCat("cannot write ", op.target.path));
        } else {
          op.tmp.clear();
        }
      } else if (op.target.missing.empty() &&  // else not there: its folder is gone
                 ::unlinkat(op.target.dir.get(), op.target.name.c_str(), 0) != 0 && errno != ENOENT) {
        s = Errno(absl::StrCat("cannot remove ", op.target.path));
      }
      std::size_t done = i;  // ops[0..done) are in place
      if (s.ok() && o_.TEST_after_rename) {
        s = o_.TEST_after_rename(static_cast<int>(i + 1));
        if (s.code() == absl::StatusCode::kAborted && s.message() == "TEST_crash") return s;
        done = i + 1;  // the hook ran after ops[i] was done
      }
      if (s.ok()) continue;
      absl::Status undone = Undo(ops, done);
      cleanup_tmps();
      remove_dirs(made);
      if (undone.ok()) {
        ::unlink(RecordPath(kJournal).c_str());
        return absl::Status(s.code(), absl::StrCat(s.message(), "; nothing was changed"));
      }
      return absl::Status(s.code(), absl::StrCat(s.message(), "; and undoing failed (", undone.message(),
                                                 "); the journal in ", o_.record_dir, " lets recovery finish"));
    }
    for (Op& op : ops) ::fsync(op.target.dir.get());
    if (created_dirs) created_dirs->insert(created_dirs->end(), made.begin(), made.end());
    manifest["commit"] = commit;
    finish(manifest);
    AF_RETURN_IF_ERROR(SaveManifest(manifest));
    ::unlink(RecordPath(kJournal).c_str());
    return absl::OkStatus();
  }

  absl::Status WriteTemp(Op& op) {
    const std::string what = op.target.path;
    for (int tries = 0; tries < 5 && op.tmp.empty(); ++tries) {
      std::string name = absl::StrCat(".", op.target.name.substr(0, 200), ".aetherflow-", RandomSuffix());
      UniqueFd fd(::openat(op.target.dir.get(), name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                           0600));
      if (!fd.valid()) {
        if (errno == EEXIST) continue;
        return Errno(absl::StrCat("cannot write ", what));
      }
      op.tmp = name;
      const mode_t mode = op.target.exists ? (op.target.st.st_mode & 07777) : (0666 & ~Umask());
      absl::Status s = WriteAll(fd.get(), *op.content, what);
      if (s.ok() && ::fchmod(fd.get(), mode) != 0) s = Errno(absl::StrCat("cannot write ", what));
      if (s.ok() && ::fsync(fd.get()) != 0) s = Errno(absl::StrCat("cannot write ", what));
      return s;
    }
    if (op.tmp.empty()) return absl::InternalError(absl::StrCat("cannot make a temporary file for ", what));
    return absl::OkStatus();
  }

  // Puts back ops[0..done) from their `undo`.
  absl::Status Undo(std::vector<Op>& ops, std::size_t done) {
    absl::Status first;
    for (std::size_t i = 0; i < done; ++i) {
      Op& op = ops[i];
      absl::Status s;
      if (op.undo) {
        Op back{std::move(op.target), op.undo, std::nullopt, ""};
        s = WriteTemp(back);
        if (s.ok() && ::renameat(back.target.dir.get(), back.tmp.c_str(), back.target.dir.get(),
                                 back.target.name.c_str()) != 0) {
          s = Errno(absl::StrCat("cannot put back ", back.target.path));
        }
        if (!s.ok() && !back.tmp.empty()) ::unlinkat(back.target.dir.get(), back.tmp.c_str(), 0);
        op.target = std::move(back.target);
      } else if (op.target.missing.empty() &&  // else not there: its folder is gone
                 ::unlinkat(op.target.dir.get(), op.target.name.c_str(), 0) != 0 && errno != ENOENT) {
        s = Errno(absl::StrCat("cannot remove ", op.target.path));
      }
      if (!s.ok() && first.ok()) first = s;
    }
    return first;
  }

  // ---- the operations

  absl::StatusOr<AppliedAttempt> Apply(const std::vector<PlannedWrite>& writes) {
    std::vector<Op> ops;
    for (const PlannedWrite& w : writes) {
      AF_ASSIGN_OR_RETURN(Target t, Resolve(w.path));
      AF_ASSIGN_OR_RETURN(std::optional<std::string> now, Content(t));
      if (StampOf(now) != w.read) {
        return absl::FailedPreconditionError(absl::StrCat(
            t.path, now ? " changed on disk" : " was removed", " since the step read it; nothing was written"));
      }
      for (const Op& other : ops) {
        if (other.target.path == t.path) {
          return absl::InvalidArgumentError(absl::StrCat(t.path, " is written twice in one attempt"));
        }
      }
      ops.push_back(Op{std::move(t), w.content, std::move(now), ""});
    }
    AF_ASSIGN_OR_RETURN(Json manifest, LoadManifest());
    // Pre-images first, durable before the first write of each file by this
    // step; the manifest names them at the commit point (the journal
    // finds them by path until then).
    for (const Op& op : ops) {
      if (Entry(manifest, op.target.path)) continue;
      if (op.undo) {
        AF_RETURN_IF_ERROR(WriteRecordFile(RecordPath(absl::StrCat(kBefore, "/", op.target.path)), *op.undo));
      }
      manifest["files"].push_back(Json{{"path", op.target.path},
                                       {"before", StampJson(StampOf(op.undo))},
                                       {"after", nullptr}});
    }
    AppliedAttempt attempt;
    for (const Op& op : ops) attempt.files.push_back({op.target.path, op.undo});
    AF_RETURN_IF_ERROR(Commit(ops, &attempt.created_dirs, manifest, [&](Json& m) {
      for (const Op& op : ops) (*Entry(m, op.target.path))["after"] = StampJson(StampOf(op.content));
      for (const std::string& d : attempt.created_dirs) m["created_dirs"].push_back(d);
    }));
    return attempt;
  }

  absl::Status Rollback(const AppliedAttempt& attempt) {
    std::vector<Op> ops;
    for (const AppliedAttempt::File& f : attempt.files) {
      AF_ASSIGN_OR_RETURN(Target t, Resolve(f.path));
      AF_ASSIGN_OR_RETURN(std::optional<std::string> now, Content(t));
      ops.push_back(Op{std::move(t), f.before, std::move(now), ""});
    }
    AF_ASSIGN_OR_RETURN(Json manifest, LoadManifest());
    AF_RETURN_IF_ERROR(Commit(ops, nullptr, manifest, [&](Json& m) { NoteRestored(ops, m); }));
    AF_ASSIGN_OR_RETURN(std::string root, Root());
    RemoveFolders(root, attempt.created_dirs);
    return absl::OkStatus();
  }

  absl::Status Revert() {
    AF_ASSIGN_OR_RETURN(Json manifest, LoadManifest());
    std::vector<Op> ops;
    for (const Json& e : manifest["files"]) {
      if (e["after"].is_null()) continue;
      const std::string path = e.value("path", "");
      AF_ASSIGN_OR_RETURN(Target t, Resolve(path));
      AF_ASSIGN_OR_RETURN(std::optional<std::string> now, Content(t));
      if (StampOf(now) != StampFromJson(e["after"])) {
        return absl::FailedPreconditionError(absl::StrCat(
            path, now ? " has changed" : " has been removed",
            " since the step wrote it; nothing was reverted"));
      }
      const FileStamp before = StampFromJson(e["before"]);
      std::optional<std::string> content;
      if (before.exists) {
        AF_ASSIGN_OR_RETURN(content, ReadRecordFile(RecordPath(absl::StrCat(kBefore, "/", path))));
        if (StampOf(content) != before) {
          return absl::DataLossError(absl::StrCat("the kept copy of ", path, " in ", o_.record_dir,
                                                  " is damaged; nothing was reverted"));
        }
      }
      ops.push_back(Op{std::move(t), std::move(content), std::move(now), ""});
    }
    if (ops.empty()) return absl::OkStatus();
    AF_RETURN_IF_ERROR(Commit(ops, nullptr, manifest, [&](Json& m) {
      for (Json& e : m["files"]) e["after"] = nullptr;
      m["reverted"] = true;
    }));
    AF_ASSIGN_OR_RETURN(std::string root, Root());
    RemoveFolders(root, manifest.value("created_dirs", std::vector<std::string>{}));
    return absl::OkStatus();
  }

  absl::Status Recover() {
    AF_ASSIGN_OR_RETURN(std::optional<std::string> text, ReadRecordFile(RecordPath(kJournal)));
    if (!text) return absl::OkStatus();
    Json journal = Json::parse(*text, nullptr, false);
    AF_ASSIGN_OR_RETURN(Json manifest, LoadManifest());
    if (journal.is_discarded() || journal.value("commit", int64_t{0}) <= manifest.value("commit", int64_t{0})) {
      // Torn before it was complete (nothing renamed yet), or the commit
      // reached its end: nothing to undo.
      ::unlink(RecordPath(kJournal).c_str());
      return absl::OkStatus();
    }
    std::vector<Op> ops;
    std::vector<std::string> changed;
    for (const Json& e : journal["files"]) {
      const std::string path = e.value("path", "");
      AF_ASSIGN_OR_RETURN(Target t, Resolve(path));
      const std::string tmp = e.value("tmp", "");
      if (!tmp.empty()) ::unlinkat(t.dir.get(), tmp.c_str(), 0);
      AF_ASSIGN_OR_RETURN(std::optional<std::string> now, Content(t));
      const FileStamp old = StampFromJson(e["old"]);
      if (StampOf(now) == old) continue;
      if (StampOf(now) != StampFromJson(e["new"])) {
        changed.push_back(path);
        continue;
      }
      std::optional<std::string> content;
      if (old.exists) {
        const std::string file = e.contains("old_file") ? e["old_file"].get<std::string>()
                                                        : absl::StrCat(kBefore, "/", path);
        AF_ASSIGN_OR_RETURN(content, ReadRecordFile(RecordPath(file)));
        if (StampOf(content) != old) {
          return absl::DataLossError(absl::StrCat("the kept copy of ", path, " is damaged"));
        }
      }
      ops.push_back(Op{std::move(t), std::move(content), std::move(now), ""});
    }
    if (!changed.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "an interrupted write cannot be undone: ", absl::StrJoin(changed, ", "), " changed since"));
    }
    if (ops.empty()) {
      ::unlink(RecordPath(kJournal).c_str());
    } else {
      AF_RETURN_IF_ERROR(Commit(ops, nullptr, manifest, [&](Json& m) { NoteRestored(ops, m); }));
    }
    AF_ASSIGN_OR_RETURN(std::string root, Root());
    RemoveFolders(root, journal.value("created_dirs", std::vector<std::string>{}));
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<Change>> Changes() const {
    AF_ASSIGN_OR_RETURN(Json manifest, LoadManifest());
    std::vector<Change> out;
    for (const Json& e : manifest["files"]) {
      if (e["after"].is_null()) continue;
      Change c;
      c.path = e.value("path", "");
      if (StampFromJson(e["before"]).exists) {
        AF_ASSIGN_OR_RETURN(c.before, ReadRecordFile(RecordPath(absl::StrCat(kBefore, "/", c.path))));
      }
      AF_ASSIGN_OR_RETURN(Target t, Resolve(c.path));
      AF_ASSIGN_OR_RETURN(c.now, Content(t));
      out.push_back(std::move(c));
    }
    return out;
  }

  absl::StatusOr<ProjectFile> Read(std::string_view path) const {
    AF_ASSIGN_OR_RETURN(Target t, Resolve(path));
    ProjectFile f;
    f.path = t.path;
    AF_ASSIGN_OR_RETURN(f.content, Content(t));
    f.stamp = StampOf(f.content);
    return f;
  }

  const Options o_;
};

ProjectWriter::ProjectWriter(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}
ProjectWriter::~ProjectWriter() = default;

#define AF_AS_OWNER()                                   \
  ScopedFileIdentity as_owner(impl_->o_.credentials);   \
  if (!as_owner.status().ok()) return as_owner.status()

absl::StatusOr<ProjectFile> ProjectWriter::Read(std::string_view path) const {
  AF_AS_OWNER();
  return impl_->Read(path);
}
absl::StatusOr<AppliedAttempt> ProjectWriter::Apply(const std::vector<PlannedWrite>& writes) {
  AF_AS_OWNER();
  return impl_->Apply(writes);
}
absl::Status ProjectWriter::Rollback(const AppliedAttempt& attempt) {
  AF_AS_OWNER();
  return impl_->Rollback(attempt);
}
absl::Status ProjectWriter::Revert() {
  AF_AS_OWNER();
  return impl_->Revert();
}
absl::Status ProjectWriter::Recover() {
  AF_AS_OWNER();
  return impl_->Recover();
}
absl::StatusOr<std::vector<ProjectWriter::Change>> ProjectWriter::Changes() const {
  AF_AS_OWNER();
  return impl_->Changes();
}

}  // namespace aetherflow
