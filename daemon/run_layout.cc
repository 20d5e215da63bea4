#include "daemon/run_layout.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "daemon/log.h"

namespace aetherflow {

absl::Status RunLayout::MakeRunDir(const std::string& run_id) const {
  std::error_code error;
  std::filesystem::create_directories(RunDir(run_id) + "/logs", error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("cannot create ", RunDir(run_id), ": ", error.message()));
  }
  return absl::OkStatus();
}

absl::Status RunLayout::MakeOutputDir(const std::string& run_id,
                                      const std::string& output_dir,
                                      const std::optional<Credentials>& as) const {
  const std::string run_dir = RunDir(run_id);
  std::error_code error;
  if (as.has_value() && output_dir.rfind(run_dir + "/", 0) == 0) {
    std::filesystem::create_directories(output_dir, error);
    if (!error) {
      for (const std::string& dir : {state_dir_, state_dir_ + "/runs", run_dir}) {
        struct stat st;
        if (::stat(dir.c_str(), &st) == 0 && (st.st_mode & 0111) != 0111) {
          ::chmod(dir.c_str(), (st.st_mode & 07777) | 0111);
        }
      }
      if (::chown(output_dir.c_str(), as->uid, as->gid) != 0 ||
          ::chmod(output_dir.c_str(), 0700) != 0) {
        error = std::error_code(errno, std::generic_category());
      }
    }
  } else {
    ScopedFileIdentity as_owner(as);
    if (!as_owner.status().ok()) return as_owner.status();
    std::filesystem::create_directories(output_dir, error);
  }
  if (error) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create output folder ", output_dir, ": ", error.message()));
  }
  return absl::OkStatus();
}

absl::Status RunLayout::MakeChangesDir(const std::string& run_id,
                                       const std::optional<Credentials>& as) const {
  const std::string dir = RunDir(run_id) + "/changes";
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot create ", dir));
  }
  if (!as.has_value()) return absl::OkStatus();
  for (const std::string& parent : {state_dir_, state_dir_ + "/runs", RunDir(run_id)}) {
    struct stat st;
    if (::stat(parent.c_str(), &st) == 0 && (st.st_mode & 0111) != 0111) {
      ::chmod(parent.c_str(), (st.st_mode & 07777) | 0111);
    }
  }
  if (::chown(dir.c_str(), as->uid, as->gid) != 0 || ::chmod(dir.c_str(), 0700) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot give ", dir, " to its run's owner"));
  }
  return absl::OkStatus();
}

void RunLayout::RemoveRunDir(const std::string& run_id) const {
  std::error_code error;
  std::filesystem::remove_all(RunDir(run_id), error);
  if (error) LogWarning(absl::StrCat("removing ", RunDir(run_id), ": ", error.message()));
}

int64_t LogSize(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : 0;
}

namespace {

bool WriteAll(int fd, std::string_view text, const std::string& path) {
  while (!text.empty()) {
    ssize_t n = ::write(fd, text.data(), text.size());
    if (n > 0) {
      text.remove_prefix(static_cast<std::size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      LogWarning(absl::StrCat("writing ", path, ": ",
                              n < 0 ? std::strerror(errno) : "no progress"));
      return false;
    }
  }
  return true;
}

}  // namespace

void AppendToLog(const std::string& path, std::string_view lines) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    LogWarning(absl::StrCat("opening ", path, ": ", std::strerror(errno)));
    return;
  }
  struct stat st;
  char last = '\n';
  const bool mid_line = ::fstat(fd, &st) == 0 && st.st_size > 0 &&
                        ::pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n';
  if (!mid_line || WriteAll(fd, "\n", path)) WriteAll(fd, lines, path);
  ::close(fd);
}

}  // namespace aetherflow
