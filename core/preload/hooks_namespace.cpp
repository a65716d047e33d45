// Names: unlink, rename, links, the working directory and realpath.
#include "preload/hooks.h"
#include "common/path_util.h"
#include "preload/caller_memory.h"
#include "preload/open_registry.h"
#include "preload/permissions.h"

#include <linux/limits.h>
#include <stdio.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>

using namespace gkfs;
using namespace gkfs::preload;

namespace {

int Unlink(const PathTarget& t) {
  if (t.internal == "/") return FailWith(EISDIR);
  if (t.names_directory) {  // "f/": ENOTDIR for a file, EISDIR for a directory
    PathTarget followed = t;
    Metadata md;
    int found = LookupArg(&followed, true, &md);
    if (found < 0) return -1;
    return FailWith(found == 0 && md.is_dir() ? EISDIR : ENOTDIR);
  }
  return Result(opens::Remove(t.internal));  // with the releases its daemon is owed
}

int UnlinkAt(int dirfd, const char* path, int flags) {
  static const auto real = NextSymbol<decltype(&::unlinkat)>("unlinkat");
  if (flags & ~AT_REMOVEDIR) return FailWith(EINVAL);  // before anything else, as Linux
  PathTarget t;
  if (flags & AT_REMOVEDIR) {
    ResolveEntryArg(dirfd, path, kRmdirDot, kRmdirDotDot, &t);
  } else {
    ResolveEntryArg(dirfd, path, EISDIR, EISDIR, &t);
  }
  return OnPath(
      t, [&](const char* p) { return real(dirfd, p, flags); },
      [&](const PathTarget& g) { return (flags & AT_REMOVEDIR) ? RemoveDirectory(g) : Unlink(g); });
}

// rename(2) inside gkfs; Client::Rename moves files, links and whole directories.
int RenameGkfs(const PathTarget& from, const PathTarget& to, unsigned flags) {
  if ((flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) ||
      (flags & RENAME_NOREPLACE && flags & RENAME_EXCHANGE)) {
    return FailWith(EINVAL);  // RENAME_WHITEOUT, or both
  }
  if (from.internal == "/" || to.internal == "/") return FailWith(EBUSY);
  opens::Flush();  // a file this process closed and rename replaces goes now
  ancestors::Forget();
  if (from.names_directory || to.names_directory) {  // "a/" must name a directory
    Metadata md;
    if (StatInternal(from.internal, &md) != 0) return -1;
    if (!md.is_dir()) return FailWith(ENOTDIR);
  }
  if ((flags & RENAME_NOREPLACE) && from.internal != to.internal) {
    Metadata existing;
    if (StatInternal(to.internal, &existing) == 0) return FailWith(EEXIST);
    if (errno != ENOENT) return -1;
  }
  if (flags & RENAME_EXCHANGE) {
    return Result(WithClient([&](Client& c) { return c.Exchange(from.internal, to.internal); }));
  }
  return Result(WithClient([&](Client& c) { return c.Rename(from.internal, to.internal); }));
}

// A path of a rename or link ending in "." or ".." (refused) belongs to gkfs: only the
// directory it is in was looked up, and that was in gkfs.
bool GkfsSide(const PathTarget& t) { return t.gkfs() || t.refused; }

// The errors the kernel gives a rename before it looks at the entries: failed
// lookups of the directories of both paths, then EXDEV, then a "." or ".." refused. 0 when
// none applies and the entries are to be renamed in gkfs.
int EntryPairError(const PathTarget& f, const PathTarget& t) {
  if (f.kind == PathTarget::Kind::kError && !f.refused) return f.error;
  if (t.kind == PathTarget::Kind::kError && !t.refused) return t.error;
  if (GkfsSide(f) != GkfsSide(t)) return EXDEV;
  if (!f.refused && !t.refused) return 0;
  if (int error = ParentError(f.refused ? t : f)) return error;
  return f.refused ? f.error : t.error;
}

int RenameAt(int from_dir, const char* from, int to_dir, const char* to, unsigned flags) {
  static const auto real_renameat = NextSymbol<decltype(&::renameat)>("renameat");
  static const auto real_renameat2 = NextSymbol<decltype(&::renameat2)>("renameat2");
  PathTarget f, t;
  int onto_dots = (flags & RENAME_NOREPLACE) ? EEXIST : EBUSY;
  ResolveEntryArg(from_dir, from, EBUSY, EBUSY, &f);
  ResolveEntryArg(to_dir, to, onto_dots, onto_dots, &t);
  for (bool resolved = false;; resolved = true) {
    if (f.kernel() && t.kernel()) {
      return flags == 0 ? real_renameat(from_dir, f.kernel_path, to_dir, t.kernel_path)
                        : real_renameat2(from_dir, f.kernel_path, to_dir, t.kernel_path, flags);
    }
    if (int error = EntryPairError(f, t)) return FailWith(error);
    int r = RenameGkfs(f, t, flags);
    if (r == 0 || resolved || (errno != ENOENT && errno != ENOTDIR)) return r;
    bool from_moved = ResolveAncestors(&f);
    if (!ResolveAncestors(&t) && !from_moved) return r;
  }
}

using ReadlinkFn = ssize_t (*)(const char*, char*, size_t);

// readlink(2): the target of a gkfs link, truncated to size, without a terminating NUL.
ssize_t ReadlinkGkfs(PathTarget* t, char* buf, size_t size, ReadlinkFn real) {
  Metadata md;
  int found = LookupArg(t, false, &md);
  if (found > 0) return real(t->kernel_path, buf, size);
  if (found < 0) return -1;
  if (!S_ISLNK(md.mode)) return FailWith(EINVAL);
  buf = Launder(buf);
  if (size == 0 || size > SSIZE_MAX) return FailWith(EINVAL);
  size_t n = std::min(size, md.link_target.size());
  if (!caller::WillWrite(buf, n)) return FailWith(EFAULT);
  std::memcpy(buf, md.link_target.data(), n);
  return static_cast<ssize_t>(n);
}

ssize_t ReadlinkAt(int dirfd, const char* path, char* buf, size_t size) {
  static const auto real = NextSymbol<decltype(&::readlinkat)>("readlinkat");
  PathTarget t;
  ResolveArg(dirfd, path, &t);
  if (t.kernel()) return real(dirfd, t.kernel_path, buf, size);
  if (!t.gkfs()) return FailWith(t.error);
  return ReadlinkGkfs(&t, buf, size, [](const char* p, char* b, size_t n) {
    return real(AT_FDCWD, p, b, n);
  });
}

int SymlinkAt(const char* target, int dirfd, const char* path) {
  static const auto real = NextSymbol<decltype(&::symlinkat)>("symlinkat");
  PathTarget t;
  ResolveEntryArg(dirfd, path, EEXIST, EEXIST, &t);
  if (GkfsSide(t)) {  // the kernel reads the link's text first
    size_t length = 0;
    if (int error = caller::CheckPath(Launder(target), &length)) return FailWith(error);
    if (length == 0) return FailWith(ENOENT);
  }
  return OnPath(
      t, [&](const char* p) { return real(target, dirfd, p); },
      [&](const PathTarget& g) {
        if (g.internal == "/") return FailWith(EEXIST);
        return Result(WithClient([&](Client& c) { return c.Symlink(g.internal, target); }));
      });
}

// An unprivileged mknod of a device node: EPERM, after the errors of the path (Linux's order).
int UnprivilegedMknod(const PathTarget& g) {
  Metadata dir, existing;
  if (StatInternal(ParentPath(g.internal), &dir) != 0) return -1;
  if (!dir.is_dir()) return FailWith(ENOTDIR);
  if (!MayAccess(dir, X_OK)) return FailWith(EACCES);
  Status s = WithClient([&](Client& c) { return c.Stat(g.internal, &existing); });
  if (s.ok()) return FailWith(EEXIST);
  if (!MayAccess(dir, W_OK | X_OK)) return FailWith(EACCES);
  return FailWith(EPERM);
}

// Linux's protected_hardlinks (on by default): who neither owns a file nor is privileged may
// link it only if it is a regular file, not set-user-ID, not set-group-ID and executable by
// the group, and readable and writable by the caller. 0 or -1 with errno.
int MayLink(const PathTarget& from) {
  if (geteuid() == 0) return 0;
  Metadata md;
  if (StatInternal(from.internal, &md) != 0) return -1;
  if (md.uid == geteuid()) return 0;
  bool safe = md.is_regular() && !(md.mode & S_ISUID) && !((md.mode & S_ISGID) && (md.mode & S_IXGRP)) &&
              MayAccess(md, R_OK | W_OK);
  return safe ? 0 : FailWith(EPERM);
}

// mknod(2): regular files, FIFOs, sockets and device nodes are records (Client::Mknod); as
// on Linux, only a privileged caller makes a device node (EPERM).
int MknodAt(int dirfd, const char* path, mode_t mode, dev_t dev) {
  static const auto real = NextSymbol<decltype(&::mknodat)>("mknodat");
  PathTarget t;
  ResolveEntryArg(dirfd, path, EEXIST, EEXIST, &t);
  return OnPath(
      t, [&](const char* p) { return real(dirfd, p, mode, dev); },
      [&](const PathTarget& g) {
        mode_t type = mode & S_IFMT;
        if (type == S_IFDIR || type == S_IFLNK) return FailWith(EPERM);
        if (type != 0 && type != S_IFREG && type != S_IFIFO && type != S_IFSOCK && type != S_IFCHR &&
            type != S_IFBLK) {
          return FailWith(EINVAL);
        }
        // Linux lets anyone make a whiteout (a character device 0:0), nothing else.
        bool device = type == S_IFBLK || (type == S_IFCHR && dev != 0);
        if (device && geteuid() != 0) return UnprivilegedMknod(g);
        uint32_t perms = mode & ~CurrentUmask() & 07777;
        return Result(WithClient([&](Client& c) { return c.Mknod(g.internal, type | perms, dev); }));
      });
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

// A path into the caller's buffer (getcwd, realpath), or into a new one when buf is NULL.
// Longer than PATH_MAX (a cwd deep in gkfs) is ENAMETOOLONG, as from the kernel's getcwd.
char* CopyPath(const std::string& path, char* buf, size_t size) {
  if (buf == nullptr) return strdup(path.c_str());
  if (path.size() >= PATH_MAX) return errno = ENAMETOOLONG, nullptr;
  if (path.size() + 1 > size) return errno = ERANGE, nullptr;
  if (!caller::WillWrite(buf, path.size() + 1)) return errno = EFAULT, nullptr;
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
  return ReadlinkAt(AT_FDCWD, path, buf, size);
}

ssize_t readlinkat(int dirfd, const char* path, char* buf, size_t size) {
  return ReadlinkAt(dirfd, path, buf, size);
}

int symlink(const char* target, const char* path) { return SymlinkAt(target, AT_FDCWD, path); }

int symlinkat(const char* target, int dirfd, const char* path) {
  return SymlinkAt(target, dirfd, path);
}

// link(2) and linkat(2): another name of the same inode (Client::Link); EXDEV across the
// mount boundary. The last component of the old name is not followed unless
// AT_SYMLINK_FOLLOW says so, as Linux. What Linux checks first is checked first: the
// existing file, the directory of the new name, a new name ending in "." or "..".
int link(const char* from, const char* to) { return linkat(AT_FDCWD, from, AT_FDCWD, to, 0); }

int linkat(int from_dir, const char* from, int to_dir, const char* to, int flags) {
  static const auto real = NextSymbol<decltype(&::linkat)>("linkat");
  PathTarget f, t;
  ResolveArg(from_dir, from, &f);
  ResolveEntryArg(to_dir, to, EEXIST, EEXIST, &t);
  if (flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH)) return FailWith(EINVAL);
  if (f.gkfs()) {
    Metadata md;
    if (LookupArg(&f, (flags & AT_SYMLINK_FOLLOW) != 0, &md) < 0) return -1;
  }
  if (f.kernel() && t.kernel()) return real(from_dir, f.kernel_path, to_dir, t.kernel_path, flags);
  if (!f.gkfs() && !f.kernel()) return FailWith(f.error);
  if (!t.gkfs() && !t.kernel()) return FailWith(t.error);  // "." or "..": EEXIST
  if (int error = ParentError(t)) return FailWith(error);
  if (f.gkfs() != t.gkfs()) return FailWith(EXDEV);
  if (MayLink(f) != 0) return -1;
  return Result(WithClient([&](Client& c) { return c.Link(f.internal, t.internal); }));
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
  if (t.gkfs() && vfork_child) {  // no RPCs here: the program about to be exec'd finds out
    cwd::SetForExec(t.internal);
    return 0;
  }
  if (t.gkfs()) {
    Metadata md;
    int found = LookupArg(&t, true, &md);
    if (found < 0) return -1;
    if (found == 0) {
      if (!md.is_dir()) return FailWith(ENOTDIR);
      if (!MayAccess(md, X_OK)) return FailWith(EACCES);
      cwd::Set(t.internal);
      return 0;
    }
  }
  if (!t.kernel()) return FailWith(t.error);
  int r = real(t.kernel_path);
  if (r == 0) EnteredKernelDir(vfork_child);
  return r;
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
  if (!vfork_child) {
    Metadata md;
    if (StatOpen(*file, &md) != 0) return -1;
    if (!MayAccess(md, X_OK)) return FailWith(EACCES);
  }
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

// Every component must exist; links in gkfs are followed (links.h).
char* realpath(const char* path, char* resolved) {
  static const auto real = NextSymbol<char* (*)(const char*, char*)>("realpath");
  PathTarget t;
  ResolveArg(path, &t);
  if (t.gkfs()) {
    Metadata md;
    int found = LookupArg(&t, true, &md);
    if (found < 0) return nullptr;
    if (found == 0) return CopyPath(ExternalPath(t.internal), Launder(resolved), PATH_MAX);
  }
  if (t.kernel()) return real(t.kernel_path, resolved);
  return errno = t.error, nullptr;
}

char* canonicalize_file_name(const char* path) { return realpath(path, nullptr); }

}  // extern "C"
