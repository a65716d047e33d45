// stdio entry points that open files: glibc opens internally, past our open(), so gkfs
// paths get a cookie stream (std_streams.h).
#include "preload/hooks.h"

#include <cstdio>

#include "preload/caller_memory.h"
#include "preload/std_streams.h"

using namespace gkfs;
using namespace gkfs::preload;

namespace {

// fopen(3) mode -> open(2) flags; -1 with errno EINVAL for an invalid mode, EFAULT for one
// that cannot be read (where glibc itself would crash).
int FlagsOfMode(const char* mode) {
  size_t length = 0;
  if (caller::CheckPath(Launder(mode), &length) != 0) return FailWith(EFAULT);
  int flags;
  switch (mode[0]) {
    case 'r': flags = O_RDONLY; break;
    case 'w': flags = O_WRONLY | O_CREAT | O_TRUNC; break;
    case 'a': flags = O_WRONLY | O_CREAT | O_APPEND; break;
    default: return FailWith(EINVAL);
  }
  for (const char* m = mode + 1; *m && *m != ','; ++m) {
    if (*m == '+') flags = (flags & ~O_ACCMODE) | O_RDWR;
    if (*m == 'x') flags |= O_EXCL;
    if (*m == 'e') flags |= O_CLOEXEC;
  }
  return flags;
}

FILE* OpenStream(PathTarget t, const char* mode) {
  static const auto real_fdopen = NextSymbol<decltype(&::fdopen)>("fdopen");
  int flags = FlagsOfMode(mode);
  if (flags < 0) return nullptr;
  int fd = OpenPath(&t, flags, 0666);
  if (fd < 0) return nullptr;
  // A symbolic link may have led to a kernel file: glibc's own stream serves it.
  FILE* stream = fds::MaybeOurs(fd) ? streams::Open(fd, mode) : real_fdopen(fd, mode);
  if (stream == nullptr) {
    int saved = errno;
    ::close(fd);
    errno = saved;
  }
  return stream;
}

FILE* Fopen(const char* path, const char* mode, FILE* (*real)(const char*, const char*)) {
  PathTarget t;
  ResolveArg(path, &t);
  if (t.kernel()) return real(t.kernel_path, mode);
  if (!t.gkfs()) return errno = t.error, nullptr;
  return OpenStream(t, mode);
}

int StdDescriptorOf(FILE* stream) {
  if (stream == stdin) return 0;
  if (stream == stdout) return 1;
  if (stream == stderr) return 2;
  return -1;
}

// freopen of a standard stream: open, then dup2 onto its descriptor, which also swaps the
// stream variable to whichever stream (ours or glibc's) serves the new file.
FILE* ReopenStd(int std_fd, const PathTarget& t, const char* mode, FILE* stream) {
  int flags = FlagsOfMode(mode);
  if (flags < 0) return nullptr;
  PathTarget target = t;
  int fd = t.gkfs() ? OpenPath(&target, flags & ~O_CLOEXEC, 0666)
                    : ::open(t.kernel_path, flags & ~O_CLOEXEC, 0666);
  if (fd < 0) return nullptr;
  fflush(stream);
  int r = ::dup2(fd, std_fd);
  int saved = errno;
  ::close(fd);
  if (r < 0) return errno = saved, nullptr;
  FILE* now = std_fd == 0 ? stdin : std_fd == 1 ? stdout : stderr;
  clearerr(now);
  return now;
}

FILE* Freopen(const char* path, const char* mode, FILE* stream,
              FILE* (*real)(const char*, const char*, FILE*)) {
  int fd;
  bool ours = streams::Fileno(stream, &fd);
  path = Launder(path);
  if (path == nullptr || ReentryGuard::active()) {
    return ours ? stream : real(path, mode, stream);  // mode change only
  }
  PathTarget t;
  Resolve(path, &t);
  if (t.needs_walk) WalkDotDot(&t);
  if (!t.gkfs() && !t.kernel()) return errno = t.error, nullptr;
  if (t.kernel() && !ours) return real(t.kernel_path, mode, stream);  // gkfs not involved
  int std_fd = StdDescriptorOf(stream);
  if (std_fd >= 0) return ReopenStd(std_fd, t, mode, stream);
  fclose(stream);
  return t.gkfs() ? OpenStream(t, mode) : fopen(t.kernel_path, mode);
}

}  // namespace

extern "C" {

FILE* fopen(const char* path, const char* mode) {
  static const auto real = NextSymbol<decltype(&::fopen)>("fopen");
  return Fopen(path, mode, real);
}

FILE* fopen64(const char* path, const char* mode) {
  static const auto real = NextSymbol<decltype(&::fopen64)>("fopen64");
  return Fopen(path, mode, real);
}

FILE* fdopen(int fd, const char* mode) {
  static const auto real = NextSymbol<decltype(&::fdopen)>("fdopen");
  if (!OurFile(fd)) return real(fd, mode);
  int flags = FlagsOfMode(mode);
  if (flags < 0) return nullptr;
  return streams::Open(fd, mode);
}

FILE* freopen(const char* path, const char* mode, FILE* stream) {
  static const auto real = NextSymbol<decltype(&::freopen)>("freopen");
  return Freopen(path, mode, stream, real);
}

FILE* freopen64(const char* path, const char* mode, FILE* stream) {
  static const auto real = NextSymbol<decltype(&::freopen64)>("freopen64");
  return Freopen(path, mode, stream, real);
}

// Cookie streams have no descriptor of their own; report the gkfs one.
int fileno(FILE* stream) {
  static const auto real = NextSymbol<decltype(&::fileno)>("fileno");
  int fd;
  return streams::Fileno(stream, &fd) ? fd : real(stream);
}

int fileno_unlocked(FILE* stream) {
  static const auto real = NextSymbol<decltype(&::fileno_unlocked)>("fileno_unlocked");
  int fd;
  return streams::Fileno(stream, &fd) ? fd : real(stream);
}

}  // extern "C"
