// open family, close, dup family and fcntl.
#include "preload/hooks.h"
#include "preload/open_registry.h"

#include <sys/file.h>

#include <cstdarg>

#include "preload/locks.h"
#include "preload/std_streams.h"

using namespace gkfs;
using namespace gkfs::preload;

namespace {

// Every open variant ends here; libc's openat serves the kernel's paths.
int OpenAt(int dirfd, const char* path, int flags, mode_t mode) {
  static const auto real = NextSymbol<int (*)(int, const char*, int, ...)>("openat");
  PathTarget target;
  if (flags & O_CREAT) {  // "dir/." names the directory, which open(O_CREAT) refuses
    int refusal = (flags & O_EXCL) ? EEXIST : EISDIR;
    ResolveEntryArg(dirfd, path, refusal, refusal, &target);
  } else {
    ResolveArg(dirfd, path, &target);
  }
  if (target.kernel()) {
    int fd = real(dirfd, target.kernel_path, flags, mode);
    return ReentryGuard::active() ? RelocateInternalFd(fd) : fd;
  }
  if (!target.gkfs()) return FailWith(target.error);
  int fd = OpenPath(&target, flags, mode);
  if (fd >= 0) streams::AfterStdFdChange(fd);
  return fd;
}

mode_t ModeArg(int flags, va_list ap) {
  return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? va_arg(ap, mode_t) : 0;
}

// After the kernel gave `to` the description of `from`.
void Duplicated(int from, int to) {
  if (to < 0 || !fds::MaybeOurs(from) || InVforkChild()) return;
  fds::Duplicate(from, to);
  streams::AfterStdFdChange(to);
}

// A descriptor of file was just forgotten (last: it was this process's last one of that
// open description): the open of a regular file ends (open_registry.h).
void EndOfDescription(const OpenFileRef& file, bool last) {
  if (file && last && !file->is_dir()) opens::Closed(file->file_id, file->path);
}

// True if making `to` a copy of `from` concerns this library's state.
bool DupConcernsUs(int from, int to) {
  return !ReentryGuard::active() &&
         (fds::MaybeOurs(from) || fds::MaybeOurs(to)) && !InVforkChild();
}

// dup2/dup3: `to` stops naming what it named and names `from`'s description.
template <typename Fn>
int DupOnto(int from, int to, Fn&& real_dup) {
  streams::BeforeStdFdChange(to);
  OpenFileRef replaced = fds::Lookup(to);
  int r = real_dup();
  if (r >= 0) {
    bool last = fds::Forget(to);
    if (replaced) locks::Closed(replaced->path);
    EndOfDescription(replaced, last);
    if (fds::MaybeOurs(from)) fds::Duplicate(from, to);
    streams::AfterStdFdChange(to);
  }
  return r;
}

using FcntlFn = int (*)(int, int, ...);

constexpr int kSettableFlags = O_APPEND | O_ASYNC | O_DIRECT | O_NOATIME | O_NONBLOCK;

int FcntlOurs(int fd, OpenFile& file, int cmd, void* arg, FcntlFn real) {
  switch (cmd) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
      int r = real(fd, cmd, arg);
      Duplicated(fd, r);
      return r;
    }
    case F_GETFL:
      return fds::ReadFlags(fd);
    case F_SETFL: {
      int flags = fds::ReadFlags(fd);
      if (flags < 0) return -1;
      int requested = static_cast<int>(reinterpret_cast<intptr_t>(arg));
      return fds::WriteFlags(fd, (flags & ~kSettableFlags) | (requested & kSettableFlags));
    }
    case F_GETLK:
    case F_SETLK:
    case F_SETLKW:
    case F_OFD_GETLK:
    case F_OFD_SETLK:
    case F_OFD_SETLKW:
      return locks::Fcntl(fd, file, cmd, static_cast<struct flock*>(arg));
    default:  // F_GETFD/F_SETFD and the rest act on the memfd descriptor itself
      return real(fd, cmd, arg);
  }
}

int Fcntl(int fd, int cmd, void* arg, FcntlFn real) {
  OpenFileRef file = OurFile(fd);
  return file ? FcntlOurs(fd, *file, cmd, arg, real) : real(fd, cmd, arg);
}

// lockf(3) as glibc defines it, over our fcntl: a range from the current position.
int Lockf(int fd, int cmd, off64_t len) {
  struct flock lock = {};
  lock.l_whence = SEEK_CUR;
  lock.l_len = len;
  switch (cmd) {
    case F_TEST: {
      lock.l_type = F_RDLCK;
      if (::fcntl(fd, F_GETLK, &lock) < 0) return -1;
      if (lock.l_type == F_UNLCK || lock.l_pid == getpid()) return 0;
      return FailWith(EACCES);
    }
    case F_ULOCK:
      lock.l_type = F_UNLCK;
      return ::fcntl(fd, F_SETLK, &lock);
    case F_LOCK:
      lock.l_type = F_WRLCK;
      return ::fcntl(fd, F_SETLKW, &lock);
    case F_TLOCK:
      lock.l_type = F_WRLCK;
      return ::fcntl(fd, F_SETLK, &lock);
    default:
      return FailWith(EINVAL);
  }
}

}  // namespace

extern "C" {

int open(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = ModeArg(flags, ap);
  va_end(ap);
  return OpenAt(AT_FDCWD, path, flags, mode);
}

int open64(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = ModeArg(flags, ap);
  va_end(ap);
  return OpenAt(AT_FDCWD, path, flags, mode);
}

int openat(int dirfd, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = ModeArg(flags, ap);
  va_end(ap);
  return OpenAt(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = ModeArg(flags, ap);
  va_end(ap);
  return OpenAt(dirfd, path, flags, mode);
}

// _FORTIFY_SOURCE entry points: open without a mode argument.
int __open_2(const char* path, int flags) { return OpenAt(AT_FDCWD, path, flags, 0); }
int __open64_2(const char* path, int flags) { return OpenAt(AT_FDCWD, path, flags, 0); }
int __openat_2(int dirfd, const char* path, int flags) { return OpenAt(dirfd, path, flags, 0); }
int __openat64_2(int dirfd, const char* path, int flags) { return OpenAt(dirfd, path, flags, 0); }

int creat(const char* path, mode_t mode) {
  return OpenAt(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}
int creat64(const char* path, mode_t mode) {
  return OpenAt(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

int close(int fd) {
  static const auto real = NextSymbol<int (*)(int)>("close");
  if (ReentryGuard::active()) return real(fd);
  if (!fds::MaybeOurs(fd) || InVforkChild()) return real(fd);
  OpenFileRef file = fds::Lookup(fd);
  streams::BeforeStdFdChange(fd);
  int r = real(fd);  // Linux releases the number even when close fails
  bool last = fds::Forget(fd);
  if (file) locks::Closed(file->path);  // POSIX: any close drops the process's record locks
  EndOfDescription(file, last);
  streams::AfterStdFdChange(fd);
  return r;
}

int flock(int fd, int operation) {
  static const auto real = NextSymbol<decltype(&::flock)>("flock");
  OpenFileRef file = OurFile(fd);
  return file ? locks::Flock(*file, operation) : real(fd, operation);
}

int lockf(int fd, int cmd, off_t len) {
  static const auto real = NextSymbol<decltype(&::lockf)>("lockf");
  return OurFile(fd) ? Lockf(fd, cmd, len) : real(fd, cmd, len);
}

int lockf64(int fd, int cmd, off64_t len) {
  static const auto real = NextSymbol<decltype(&::lockf64)>("lockf64");
  return OurFile(fd) ? Lockf(fd, cmd, len) : real(fd, cmd, len);
}

int dup(int fd) {
  static const auto real = NextSymbol<int (*)(int)>("dup");
  int r = real(fd);
  Duplicated(fd, r);
  return r;
}

int dup2(int from, int to) {
  static const auto real = NextSymbol<int (*)(int, int)>("dup2");
  if (from == to || !DupConcernsUs(from, to)) return real(from, to);
  return DupOnto(from, to, [&] { return real(from, to); });
}

int dup3(int from, int to, int flags) {
  static const auto real = NextSymbol<int (*)(int, int, int)>("dup3");
  if (from == to || !DupConcernsUs(from, to)) return real(from, to, flags);
  return DupOnto(from, to, [&] { return real(from, to, flags); });
}

int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);  // int or pointer: same register class on Linux ABIs
  va_end(ap);
  static const auto real = NextSymbol<FcntlFn>("fcntl");
  return Fcntl(fd, cmd, arg, real);
}

int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  static const auto real = NextSymbol<FcntlFn>("fcntl64");
  return Fcntl(fd, cmd, arg, real);
}

}  // extern "C"
