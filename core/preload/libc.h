// The seam to the real OS under the hooks: the next definition of an interposed libc symbol
// (resolved once per hook) and raw system calls the library uses on its own descriptors, so
// that its own work never passes through its own hooks.
#pragma once

#include <dlfcn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

namespace gkfs::preload {

// The definition of `name` after this library in lookup order (normally libc's).
// Use as: static const auto real = NextSymbol<decltype(&::read)>("read");
template <typename Fn>
Fn NextSymbol(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

namespace sys {

inline int64_t Lseek(int fd, int64_t offset, int whence) {
  return syscall(SYS_lseek, fd, offset, whence);
}
inline ssize_t Pread(int fd, void* buf, size_t n, int64_t offset) {
  return syscall(SYS_pread64, fd, buf, n, offset);
}
inline ssize_t Pwrite(int fd, const void* buf, size_t n, int64_t offset) {
  return syscall(SYS_pwrite64, fd, buf, n, offset);
}
inline ssize_t Write(int fd, const void* buf, size_t n) { return syscall(SYS_write, fd, buf, n); }
inline int Close(int fd) { return static_cast<int>(syscall(SYS_close, fd)); }
inline int Open(const char* path, int flags, int mode = 0) {
  return static_cast<int>(syscall(SYS_openat, -100 /* AT_FDCWD */, path, flags, mode));
}
inline int Fstat(int fd, struct stat* st) { return static_cast<int>(syscall(SYS_fstat, fd, st)); }
inline int Stat(const char* path, struct stat* st) {
  return static_cast<int>(syscall(SYS_newfstatat, -100, path, st, 0));
}
inline int Fcntl(int fd, int cmd, long arg) {
  return static_cast<int>(syscall(SYS_fcntl, fd, cmd, arg));
}
inline int MemfdCreate(const char* name, unsigned flags) {
  return static_cast<int>(syscall(SYS_memfd_create, name, flags));
}
inline ssize_t Readlink(const char* path, char* buf, size_t n) {
  return syscall(SYS_readlinkat, -100, path, buf, n);
}
inline ssize_t Getdents64(int fd, void* buf, size_t n) {
  return syscall(SYS_getdents64, fd, buf, n);
}
inline long Getcwd(char* buf, size_t n) { return syscall(SYS_getcwd, buf, n); }
inline unsigned Umask(unsigned mask) { return static_cast<unsigned>(syscall(SYS_umask, mask)); }
// EFAULT unless [p, p+n) is mapped (msync MS_ASYNC only walks the mappings).
inline bool IsMapped(const void* p, size_t n) {
  if (n == 0) return true;
  const uintptr_t page = 4096;
  uintptr_t begin = reinterpret_cast<uintptr_t>(p) & ~(page - 1);
  uintptr_t end = reinterpret_cast<uintptr_t>(p) + n;
  if (end < begin) return false;
  return syscall(SYS_msync, begin, end - begin, 1 /* MS_ASYNC */) == 0;
}

}  // namespace sys
}  // namespace gkfs::preload
