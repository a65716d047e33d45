// Logging for daemon and client: one process-wide level and sink, configured once from
// a level variable (GKFS_LOG; grammar in common/log_level.h, the client's LIBGKFS_LOG means
// the same) and an output variable (file path).
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
