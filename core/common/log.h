// Logging for daemon and client: one process-wide level and sink, configured once from
// GKFS_LOG / LIBGKFS_LOG (none|errors|info|debug) and LIBGKFS_LOG_OUTPUT (file path).
// Safe from any thread; a line is written with one write(2) so lines never interleave.
#pragma once

#include <string>

namespace gkfs {

enum class LogLevel { kNone = 0, kError = 1, kInfo = 2, kDebug = 3 };

// Reads the environment; later calls replace the configuration.
void LogInit(const char* level_env, const char* output_env);
void LogSetLevel(LogLevel level);
bool LogEnabled(LogLevel level);
void LogWrite(LogLevel level, const std::string& message);

}  // namespace gkfs

#define GKFS_LOG(level, msg)                                          \
  do {                                                                \
    if (::gkfs::LogEnabled(::gkfs::LogLevel::level)) {                \
      ::gkfs::LogWrite(::gkfs::LogLevel::level, (msg));               \
    }                                                                 \
  } while (0)
