// statfs/statvfs of the whole file system, and extended attributes (gkfs has none: reading
// them gives ENOTSUP and listing them gives an empty list, which `ls -l` and `cp -a` accept).
#include "preload/hooks.h"
#include "preload/caller_memory.h"

#include <linux/limits.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>

#include <cstring>

using namespace gkfs;
using namespace gkfs::preload;

static_assert(sizeof(struct statfs) == sizeof(struct statfs64), "one layout serves both");
static_assert(sizeof(struct statvfs) == sizeof(struct statvfs64), "one layout serves both");

namespace {

constexpr long kMagic = 0x676b6673;  // f_type: "gkfs"

int QueryFs(FsStats* stats) {
  return Result(WithClient([&](Client& c) { return c.StatFs(stats); }));
}

int FillStatfs(struct statfs* out) {
  FsStats fs;
  if (QueryFs(&fs) != 0) return -1;
  out = Launder(out);
  if (!caller::WillWrite(out, sizeof(*out))) return FailWith(EFAULT);
  std::memset(out, 0, sizeof(*out));
  uint64_t bsize = fs.block_size > 0 ? fs.block_size : 4096;
  out->f_type = kMagic;
  out->f_bsize = static_cast<long>(bsize);
  out->f_frsize = static_cast<long>(bsize);
  out->f_blocks = fs.total_bytes / bsize;
  out->f_bfree = fs.free_bytes / bsize;
  out->f_bavail = fs.free_bytes / bsize;
  out->f_files = fs.files + fs.free_bytes / bsize;  // inodes are not a limited resource
  out->f_ffree = fs.free_bytes / bsize;
  out->f_namelen = NAME_MAX;
  uint64_t dev = DeviceId();
  std::memcpy(&out->f_fsid, &dev, sizeof(out->f_fsid));
  return 0;
}

int FillStatvfs(struct statvfs* out) {
  struct statfs fs;
  if (FillStatfs(&fs) != 0) return -1;
  out = Launder(out);
  if (!caller::WillWrite(out, sizeof(*out))) return FailWith(EFAULT);
  std::memset(out, 0, sizeof(*out));
  out->f_bsize = static_cast<unsigned long>(fs.f_bsize);
  out->f_frsize = static_cast<unsigned long>(fs.f_frsize);
  out->f_blocks = fs.f_blocks;
  out->f_bfree = fs.f_bfree;
  out->f_bavail = fs.f_bavail;
  out->f_files = fs.f_files;
  out->f_ffree = fs.f_ffree;
  out->f_favail = fs.f_ffree;
  out->f_fsid = DeviceId();
  out->f_namemax = NAME_MAX;
  return 0;
}

// Which side a path-based call belongs to: 1 gkfs (the path exists; links followed unless
// follow is false), 0 kernel (t->kernel_path is the path to use), -1 error.
int Side(const char* path, PathTarget* t, bool follow = true) {
  ResolveArg(path, t);
  if (t->gkfs()) {
    Metadata md;
    int found = LookupArg(t, follow, &md);
    if (found <= 0) return found < 0 ? -1 : 1;
  }
  if (t->kernel()) return 0;
  return FailWith(t->error);
}

}  // namespace

extern "C" {

int statfs(const char* path, struct statfs* out) {
  static const auto real = NextSymbol<decltype(&::statfs)>("statfs");
  PathTarget t;
  int side = Side(path, &t);
  if (side == 0) return real(t.kernel_path, out);
  return side < 0 ? -1 : FillStatfs(out);
}
int statfs64(const char* path, struct statfs64* out) {
  return statfs(path, reinterpret_cast<struct statfs*>(out));
}

int fstatfs(int fd, struct statfs* out) {
  static const auto real = NextSymbol<decltype(&::fstatfs)>("fstatfs");
  if (OurFile(fd)) return FillStatfs(out);
  return real(fd, out);
}
int fstatfs64(int fd, struct statfs64* out) {
  return fstatfs(fd, reinterpret_cast<struct statfs*>(out));
}

int statvfs(const char* path, struct statvfs* out) {
  static const auto real = NextSymbol<decltype(&::statvfs)>("statvfs");
  PathTarget t;
  int side = Side(path, &t);
  if (side == 0) return real(t.kernel_path, out);
  return side < 0 ? -1 : FillStatvfs(out);
}
int statvfs64(const char* path, struct statvfs64* out) {
  return statvfs(path, reinterpret_cast<struct statvfs*>(out));
}

int fstatvfs(int fd, struct statvfs* out) {
  static const auto real = NextSymbol<decltype(&::fstatvfs)>("fstatvfs");
  if (OurFile(fd)) return FillStatvfs(out);
  return real(fd, out);
}
int fstatvfs64(int fd, struct statvfs64* out) {
  return fstatvfs(fd, reinterpret_cast<struct statvfs*>(out));
}

ssize_t getxattr(const char* path, const char* name, void* value, size_t size) {
  static const auto real = NextSymbol<decltype(&::getxattr)>("getxattr");
  PathTarget t;
  int side = Side(path, &t);
  if (side == 0) return real(t.kernel_path, name, value, size);
  return side < 0 ? -1 : FailWith(ENOTSUP);
}

ssize_t lgetxattr(const char* path, const char* name, void* value, size_t size) {
  static const auto real = NextSymbol<decltype(&::lgetxattr)>("lgetxattr");
  PathTarget t;
  int side = Side(path, &t, false);
  if (side == 0) return real(t.kernel_path, name, value, size);
  return side < 0 ? -1 : FailWith(ENOTSUP);
}

ssize_t fgetxattr(int fd, const char* name, void* value, size_t size) {
  static const auto real = NextSymbol<decltype(&::fgetxattr)>("fgetxattr");
  if (OurFile(fd)) return FailWith(ENOTSUP);
  return real(fd, name, value, size);
}

ssize_t listxattr(const char* path, char* list, size_t size) {
  static const auto real = NextSymbol<decltype(&::listxattr)>("listxattr");
  PathTarget t;
  int side = Side(path, &t);
  if (side == 0) return real(t.kernel_path, list, size);
  return side < 0 ? -1 : 0;
}

ssize_t llistxattr(const char* path, char* list, size_t size) {
  static const auto real = NextSymbol<decltype(&::llistxattr)>("llistxattr");
  PathTarget t;
  int side = Side(path, &t, false);
  if (side == 0) return real(t.kernel_path, list, size);
  return side < 0 ? -1 : 0;
}

ssize_t flistxattr(int fd, char* list, size_t size) {
  static const auto real = NextSymbol<decltype(&::flistxattr)>("flistxattr");
  if (OurFile(fd)) return 0;
  return real(fd, list, size);
}

int setxattr(const char* path, const char* name, const void* value, size_t size, int flags) {
  static const auto real = NextSymbol<decltype(&::setxattr)>("setxattr");
  PathTarget t;
  int side = Side(path, &t);
  if (side == 0) return real(t.kernel_path, name, value, size, flags);
  return side < 0 ? -1 : FailWith(ENOTSUP);
}

int lsetxattr(const char* path, const char* name, const void* value, size_t size, int flags) {
  static const auto real = NextSymbol<decltype(&::lsetxattr)>("lsetxattr");
  PathTarget t;
  int side = Side(path, &t, false);
  if (side == 0) return real(t.kernel_path, name, value, size, flags);
  return side < 0 ? -1 : FailWith(ENOTSUP);
}

int fsetxattr(int fd, const char* name, const void* value, size_t size, int flags) {
  static const auto real = NextSymbol<decltype(&::fsetxattr)>("fsetxattr");
  if (OurFile(fd)) return FailWith(ENOTSUP);
  return real(fd, name, value, size, flags);
}

}  // extern "C"
