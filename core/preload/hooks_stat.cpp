// stat family (including glibc's old __xstat entry points and statx) and access checks.
#include "preload/hooks.h"

#include <sys/sysmacros.h>

#include <cstring>

#include "preload/caller_memory.h"
#include "preload/permissions.h"

using namespace gkfs;
using namespace gkfs::preload;

static_assert(sizeof(struct stat) == sizeof(struct stat64), "one layout serves both");

namespace {

using FstatatFn = int (*)(int, const char*, struct stat*, int);

int Fstat(int fd, struct stat* st) {
  static const auto real = NextSymbol<int (*)(int, struct stat*)>("fstat");
  if (OpenFileRef f = OurFile(fd)) return StatFd(*f, Launder(st));
  return real(fd, st);
}

// True for the "" of AT_EMPTY_PATH (a pointer that cannot be read is not empty: it gives
// EFAULT later, as on Linux).
bool EmptyPath(const char* path) {
  size_t length = 1;
  return caller::CheckPath(Launder(path), &length) == 0 && length == 0;
}

// Every path-based stat ends here.
int StatAt(int dirfd, const char* path, struct stat* st, int flags) {
  static const auto real = NextSymbol<FstatatFn>("fstatat");
  if ((flags & AT_EMPTY_PATH) && dirfd != AT_FDCWD && EmptyPath(path)) return Fstat(dirfd, st);
  PathTarget t;
  ResolveArg(dirfd, path, &t);
  if (t.gkfs()) {
    Metadata md;
    int found = LookupArg(&t, !(flags & AT_SYMLINK_NOFOLLOW), &md);
    if (found < 0) return -1;
    if (found == 0) {
      st = Launder(st);
      if (!caller::WillWrite(st, sizeof(*st))) return FailWith(EFAULT);
      FillStat(md, t.internal, st);
      return 0;
    }
  }
  if (t.kernel()) return real(dirfd, t.kernel_path, st, flags);
  return FailWith(t.error);
}

void FillStatx(const struct stat& st, struct statx* out) {
  std::memset(out, 0, sizeof(*out));
  out->stx_mask = STATX_BASIC_STATS;
  out->stx_blksize = static_cast<uint32_t>(st.st_blksize);
  out->stx_nlink = static_cast<uint32_t>(st.st_nlink);
  out->stx_uid = st.st_uid;
  out->stx_gid = st.st_gid;
  out->stx_mode = static_cast<uint16_t>(st.st_mode);
  out->stx_ino = st.st_ino;
  out->stx_size = static_cast<uint64_t>(st.st_size);
  out->stx_blocks = static_cast<uint64_t>(st.st_blocks);
  auto ts = [](const struct timespec& t) {
    struct statx_timestamp s = {};
    s.tv_sec = t.tv_sec;
    s.tv_nsec = static_cast<uint32_t>(t.tv_nsec);
    return s;
  };
  out->stx_atime = ts(st.st_atim);
  out->stx_mtime = ts(st.st_mtim);
  out->stx_ctime = ts(st.st_ctim);
  out->stx_dev_major = major(st.st_dev);
  out->stx_dev_minor = minor(st.st_dev);
}

// access(2) on gkfs metadata, with the caller's identity read at each call.
int CheckAccess(const Metadata& md, int mode, bool effective) {
  return MayAccess(md, mode, effective) ? 0 : FailWith(EACCES);
}

int AccessAt(int dirfd, const char* path, int mode, int flags) {
  static const auto real = NextSymbol<int (*)(int, const char*, int, int)>("faccessat");
  PathTarget t;
  ResolveArg(dirfd, path, &t);
  if (t.gkfs()) {
    if (mode & ~(R_OK | W_OK | X_OK)) return FailWith(EINVAL);
    Metadata md;
    int found = LookupArg(&t, !(flags & AT_SYMLINK_NOFOLLOW), &md);
    if (found < 0) return -1;
    if (found == 0) return CheckAccess(md, mode, (flags & AT_EACCESS) != 0);
  }
  if (t.kernel()) return real(dirfd, t.kernel_path, mode, flags);
  return FailWith(t.error);
}

}  // namespace

extern "C" {

int stat(const char* path, struct stat* st) { return StatAt(AT_FDCWD, path, st, 0); }
int stat64(const char* path, struct stat64* st) {
  return StatAt(AT_FDCWD, path, reinterpret_cast<struct stat*>(st), 0);
}
int lstat(const char* path, struct stat* st) {
  return StatAt(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}
int lstat64(const char* path, struct stat64* st) {
  return StatAt(AT_FDCWD, path, reinterpret_cast<struct stat*>(st), AT_SYMLINK_NOFOLLOW);
}
int fstat(int fd, struct stat* st) { return Fstat(fd, st); }
int fstat64(int fd, struct stat64* st) { return Fstat(fd, reinterpret_cast<struct stat*>(st)); }
int fstatat(int dirfd, const char* path, struct stat* st, int flags) {
  return StatAt(dirfd, path, st, flags);
}
int fstatat64(int dirfd, const char* path, struct stat64* st, int flags) {
  return StatAt(dirfd, path, reinterpret_cast<struct stat*>(st), flags);
}

// glibc < 2.33 compiled binaries call these; on x86_64 every version uses the kernel layout.
int __xstat(int, const char* path, struct stat* st) { return StatAt(AT_FDCWD, path, st, 0); }
int __xstat64(int, const char* path, struct stat64* st) { return stat64(path, st); }
int __lxstat(int, const char* path, struct stat* st) { return lstat(path, st); }
int __lxstat64(int, const char* path, struct stat64* st) { return lstat64(path, st); }
int __fxstat(int, int fd, struct stat* st) { return Fstat(fd, st); }
int __fxstat64(int, int fd, struct stat64* st) { return fstat64(fd, st); }
int __fxstatat(int, int dirfd, const char* path, struct stat* st, int flags) {
  return StatAt(dirfd, path, st, flags);
}
int __fxstatat64(int, int dirfd, const char* path, struct stat64* st, int flags) {
  return fstatat64(dirfd, path, st, flags);
}

int statx(int dirfd, const char* path, int flags, unsigned int mask, struct statx* out) {
  static const auto real = NextSymbol<decltype(&::statx)>("statx");
  out = Launder(out);
  struct stat st;
  if ((flags & AT_EMPTY_PATH) && EmptyPath(path)) {
    OpenFileRef f = OurFile(dirfd);
    if (!f) return real(dirfd, path, flags, mask, out);
    if (StatFd(*f, &st) != 0) return -1;
    if (!caller::WillWrite(out, sizeof(*out))) return FailWith(EFAULT);
    FillStatx(st, out);
    return 0;
  }
  PathTarget t;
  ResolveArg(dirfd, path, &t);
  if (t.gkfs()) {
    Metadata md;
    int found = LookupArg(&t, !(flags & AT_SYMLINK_NOFOLLOW), &md);
    if (found < 0) return -1;
    if (found == 0) {
      if (!caller::WillWrite(out, sizeof(*out))) return FailWith(EFAULT);
      FillStat(md, t.internal, &st);
      FillStatx(st, out);
      return 0;
    }
  }
  if (t.kernel()) return real(dirfd, t.kernel_path, flags, mask, out);
  return FailWith(t.error);
}

int access(const char* path, int mode) { return AccessAt(AT_FDCWD, path, mode, 0); }
int faccessat(int dirfd, const char* path, int mode, int flags) {
  return AccessAt(dirfd, path, mode, flags);
}
int euidaccess(const char* path, int mode) { return AccessAt(AT_FDCWD, path, mode, AT_EACCESS); }
int eaccess(const char* path, int mode) { return AccessAt(AT_FDCWD, path, mode, AT_EACCESS); }

}  // extern "C"
