// Leveled logging to stderr, which journald reads. Under systemd (when
// $JOURNAL_STREAM is set) lines carry sd-daemon priority prefixes ("<6>");
// in a terminal they read "aetherflowd: info: ...". Thread-safe.
#ifndef AETHERFLOW_DAEMON_LOG_H_
#define AETHERFLOW_DAEMON_LOG_H_

#include <string_view>

namespace aetherflow {

enum class LogLevel { kDebug = 7, kInfo = 6, kWarning = 4, kError = 3 };

void SetLogLevel(LogLevel level);
void Log(LogLevel level, std::string_view message);
inline void LogInfo(std::string_view m) { Log(LogLevel::kInfo, m); }
inline void LogWarning(std::string_view m) { Log(LogLevel::kWarning, m); }
inline void LogError(std::string_view m) { Log(LogLevel::kError, m); }

}  // namespace aetherflow

#endif  // AETHERFLOW_DAEMON_LOG_H_
