// Names: unlink, rename, links, the working directory and realpath.
#include "preload/hooks.h"

#include <linux/limits.h>
#include <stdio.h>

#include <cstdlib>
#include <cstring>

using namespace gkfs;
using namespace gkfs::preload;

namespace {

int Unlink(const PathTarget& t) {
  if (t.internal == "/") return FailWith(EISDIR);
  if (t.names_directory) {  // "f/": ENOTDIR for a file, EISDIR for a directory
    Metadata md;
    if (StatInternal(t.internal, &md) != 0) return -1;
    return FailWith(md.is_dir() ? EISDIR : ENOTDIR);
  }
  return Result(WithClient([&](Client& c) { return c.Remove(t.internal); }));
}

int UnlinkAt(int dirfd, const char* path, int flags) {
  static const auto real = NextSymbol<decltype(&::unlinkat)>("unlinkat");
  PathTarget t;
  ResolveArg(dirfd, path, &t);
  if (t.kernel()) return real(dirfd, t.kernel_path, flags);
  if (!t.gkfs()) return FailWith(t.error);
  if (flags & ~AT_REMOVEDIR) return FailWith(EINVAL);
  return (flags & AT_REMOVEDIR) ? RemoveDirectory(t) : Unlink(t);
}

int RenameGkfs(const PathTarget& from, const PathTarget& to, unsigned flags) {
  if (flags & ~RENAME_NOREPLACE) return FailWith(EINVAL);  // no RENAME_EXCHANGE/WHITEOUT
  if (from.internal == "/" || to.internal == "/") return FailWith(EBUSY);
  // The client renames regular files only: a directory gives EXDEV, so mv copies it.
  if (from.internal != to.internal) {
    Metadata existing;  // the client would replace whatever record is at the target
    if (StatInternal(to.internal, &existing) == 0) {
      if (flags & RENAME_NOREPLACE) return FailWith(EEXIST);
      if (existing.is_dir()) return FailWith(EISDIR);
    } else if (errno != ENOENT) {
      return -1;
    }
  }
  return Result(WithClient([&](Client& c) { return c.Rename(from.internal, to.internal); }));
}

int RenameAt(int from_dir, const char* from, int to_dir, const char* to, unsigned flags) {
  static const auto real_renameat = NextSymbol<decltype(&::renameat)>("renameat");
  static const auto real_renameat2 = NextSymbol<decltype(&::renameat2)>("renameat2");
  PathTarget f, t;
  ResolveArg(from_dir, from, &f);
  ResolveArg(to_dir, to, &t);
  if (f.kernel() && t.kernel()) {
    return flags == 0 ? real_renameat(from_dir, f.kernel_path, to_dir, t.kernel_path)
                      : real_renameat2(from_dir, f.kernel_path, to_dir, t.kernel_path, flags);
  }
  if (!f.gkfs() && !f.kernel()) return FailWith(f.error);
  if (!t.gkfs() && !t.kernel()) return FailWith(t.error);
  if (f.gkfs() != t.gkfs()) return FailWith(EXDEV);
  return RenameGkfs(f, t, flags);
}

// readlink on gkfs: nothing is a symlink.
ssize_t ReadlinkGkfs(const PathTarget& t) {
  Metadata md;
  if (StatInternal(t.internal, &md) != 0) return -1;
  return FailWith(EINVAL);
}

// mknod of a regular file creates one; gkfs has no other node types.
int MknodAt(int dirfd, const char* path, mode_t mode, dev_t dev) {
  static const auto real = NextSymbol<decltype(&::mknodat)>("mknodat");
  PathTarget t;
  ResolveArg(dirfd, path, &t);
  if (t.kernel()) return real(dirfd, t.kernel_path, mode, dev);
  if (!t.gkfs()) return FailWith(t.error);
  if ((mode & S_IFMT) != 0 && !S_ISREG(mode)) return FailWith(EPERM);
  Metadata md;
  uint32_t perms = mode & ~CurrentUmask() & 07777;
  return Result(WithClient([&](Client& c) { return c.Create(t.internal, perms, true, &md); }));
}

// After a successful chdir/fchdir to a kernel directory.
void EnteredKernelDir(bool vfork_child) {
  if (ReentryGuard::active()) return;
  if (vfork_child) {
    cwd::LeaveForExec();
  } else {
    cwd::ChangedToKernel();
  }
}

char* CopyPath(const std::string& path, char* buf, size_t size) {
  if (buf == nullptr) return strdup(path.c_str());
  if (path.size() + 1 > size) return errno = ERANGE, nullptr;
  std::memcpy(buf, path.c_str(), path.size() + 1);
  return buf;
}

}  // namespace

extern "C" {

int unlink(const char* path) { return UnlinkAt(AT_FDCWD, path, 0); }
int unlinkat(int dirfd, const char* path, int flags) { return UnlinkAt(dirfd, path, flags); }

int rename(const char* from, const char* to) { return RenameAt(AT_FDCWD, from, AT_FDCWD, to, 0); }
int renameat(int from_dir, const char* from, int to_dir, const char* to) {
  return RenameAt(from_dir, from, to_dir, to, 0);
}
int renameat2(int from_dir, const char* from, int to_dir, const char* to, unsigned flags) {
  return RenameAt(from_dir, from, to_dir, to, flags);
}

ssize_t readlink(const char* path, char* buf, size_t size) {
  static const auto real = NextSymbol<decltype(&::readlink)>("readlink");
  PathTarget t;
  ResolveArg(path, &t);
  if (t.kernel()) return real(t.kernel_path, buf, size);
  return t.gkfs() ? ReadlinkGkfs(t) : FailWith(t.error);
}

ssize_t readlinkat(int dirfd, const char* path, char* buf, size_t size) {
  static const auto real = NextSymbol<decltype(&::readlinkat)>("readlinkat");
  PathTarget t;
  ResolveArg(dirfd, path, &t);
  if (t.kernel()) return real(dirfd, t.kernel_path, buf, size);
  return t.gkfs() ? ReadlinkGkfs(t) : FailWith(t.error);
}

// gkfs has no links: EPERM inside it, EXDEV across the mount boundary.
int symlink(const char* target, const char* path) { return symlinkat(target, AT_FDCWD, path); }

int symlinkat(const char* target, int dirfd, const char* path) {
  static const auto real = NextSymbol<decltype(&::symlinkat)>("symlinkat");
  PathTarget t;
  ResolveArg(dirfd, path, &t);
  if (t.kernel()) return real(target, dirfd, t.kernel_path);
  return t.gkfs() ? FailWith(EPERM) : FailWith(t.error);
}

int link(const char* from, const char* to) { return linkat(AT_FDCWD, from, AT_FDCWD, to, 0); }

int linkat(int from_dir, const char* from, int to_dir, const char* to, int flags) {
  static const auto real = NextSymbol<decltype(&::linkat)>("linkat");
  PathTarget f, t;
  ResolveArg(from_dir, from, &f);
  ResolveArg(to_dir, to, &t);
  if (f.kernel() && t.kernel()) return real(from_dir, f.kernel_path, to_dir, t.kernel_path, flags);
  if (!f.gkfs() && !f.kernel()) return FailWith(f.error);
  if (!t.gkfs() && !t.kernel()) return FailWith(t.error);
  return FailWith(f.gkfs() != t.gkfs() ? EXDEV : EPERM);
}

int mknod(const char* path, mode_t mode, dev_t dev) { return MknodAt(AT_FDCWD, path, mode, dev); }
int mknodat(int dirfd, const char* path, mode_t mode, dev_t dev) {
  return MknodAt(dirfd, path, mode, dev);
}
int mkfifo(const char* path, mode_t mode) { return MknodAt(AT_FDCWD, path, mode | S_IFIFO, 0); }
int mkfifoat(int dirfd, const char* path, mode_t mode) {
  return MknodAt(dirfd, path, mode | S_IFIFO, 0);
}

int chdir(const char* path) {
  static const auto real = NextSymbol<decltype(&::chdir)>("chdir");
  PathTarget t;
  ResolveArg(path, &t);
  bool vfork_child = !ReentryGuard::active() && InVforkChild();
  if (t.kernel()) {
    int r = real(t.kernel_path);
    if (r == 0) EnteredKernelDir(vfork_child);
    return r;
  }
  if (!t.gkfs()) return FailWith(t.error);
  if (vfork_child) {  // no RPCs here: the program about to be exec'd finds out
    cwd::SetForExec(t.internal);
    return 0;
  }
  Metadata md;
  if (StatInternal(t.internal, &md) != 0) return -1;
  if (!md.is_dir()) return FailWith(ENOTDIR);
  cwd::Set(t.internal);
  return 0;
}

int fchdir(int fd) {
  static const auto real = NextSymbol<decltype(&::fchdir)>("fchdir");
  OpenFileRef file = OurFile(fd);
  bool vfork_child = !ReentryGuard::active() && InVforkChild();
  if (!file) {
    int r = real(fd);
    if (r == 0) EnteredKernelDir(vfork_child);
    return r;
  }
  if (!file->is_dir()) return FailWith(ENOTDIR);
  vfork_child ? cwd::SetForExec(file->path) : cwd::Set(file->path);
  return 0;
}

char* getcwd(char* buf, size_t size) {
  static const auto real = NextSymbol<decltype(&::getcwd)>("getcwd");
  std::string internal;
  if (ReentryGuard::active() || !cwd::Get(&internal)) return real(buf, size);
  buf = Launder(buf);
  if (buf != nullptr && size == 0) return errno = EINVAL, nullptr;
  return CopyPath(ExternalPath(internal), buf, buf == nullptr ? 0 : size);
}

char* get_current_dir_name() {
  static const auto real = NextSymbol<decltype(&::get_current_dir_name)>("get_current_dir_name");
  std::string internal;
  if (ReentryGuard::active() || !cwd::Get(&internal)) return real();
  return strdup(ExternalPath(internal).c_str());
}

// Lexical for gkfs paths (gkfs has no symlinks), but every component must exist.
char* realpath(const char* path, char* resolved) {
  static const auto real = NextSymbol<char* (*)(const char*, char*)>("realpath");
  PathTarget t;
  ResolveArg(path, &t);
  if (t.kernel()) return real(t.kernel_path, resolved);
  if (!t.gkfs()) return errno = t.error, nullptr;
  Metadata md;
  if (StatInternal(t.internal, &md) != 0) return nullptr;
  if (t.names_directory && !md.is_dir()) return errno = ENOTDIR, nullptr;
  return CopyPath(ExternalPath(t.internal), Launder(resolved), PATH_MAX);
}

char* canonicalize_file_name(const char* path) { return realpath(path, nullptr); }

}  // extern "C"
