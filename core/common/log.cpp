#include "common/log.h"

#include "common/log_level.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace gkfs {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kError)};
std::atomic<int> g_fd{STDERR_FILENO};

const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kError: return "error";
    case LogLevel::kInfo: return "info";
    case LogLevel::kDebug: return "debug";
    default: return "";
  }
}

}  // namespace

void LogInit(const char* level_env, const char* output_env) {
  const char* text = level_env ? getenv(level_env) : nullptr;
  int level = text == nullptr ? -1 : ParseLogLevelText(text);
  g_level = level < 0 ? static_cast<int>(LogLevel::kError) : level;
  const char* out = output_env ? getenv(output_env) : nullptr;
  if (out != nullptr && *out != '\0') {
    int fd = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) g_fd = fd;
  }
}

void LogSetLevel(LogLevel level) { g_level = static_cast<int>(level); }

bool LogEnabled(LogLevel level) { return static_cast<int>(level) <= g_level.load(); }

void LogWrite(LogLevel level, const std::string& message) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  char prefix[96];
  int n = snprintf(prefix, sizeof(prefix), "[%ld.%06ld] [gkfs %d] [%s] ", (long)ts.tv_sec,
                   ts.tv_nsec / 1000, (int)getpid(), LevelName(level));
  std::string line(prefix, n > 0 ? n : 0);
  line += message;
  line += '\n';
  ssize_t ignored = write(g_fd.load(), line.data(), line.size());
  (void)ignored;
}

}  // namespace gkfs
