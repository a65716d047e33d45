// Shared by the hooks_*.cpp files, which define the interposed libc entry points. Include it
// first: our definitions of open() and friends must not meet _FORTIFY_SOURCE's inline wrappers.
//
// A hook is thin: decide (without the Client) whether the call is ours, else call the next
// definition (libc) with the arguments unchanged; if ours, call into gkfs_ops.
#undef _FORTIFY_SOURCE
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "preload/fd_table.h"
#include "preload/gkfs_ops.h"
#include "preload/libc.h"
#include "preload/links.h"
#include "preload/ancestors.h"
#include "preload/path_resolver.h"
#include "preload/preload.h"

namespace gkfs::preload {

// The open gkfs file behind fd, or nullptr when the call belongs to libc.
inline OpenFileRef OurFile(int fd) {
  if (!fds::MaybeOurs(fd) || ReentryGuard::active()) return nullptr;
  return fds::Lookup(fd);
}

// Resolves a path argument; while the library itself is calling, every path is the kernel's.
// A gkfs path whose ".." was applied lexically is walked physically here (links.h).
inline void ResolveArg(int dirfd, const char* path, PathTarget* target) {
  if (ReentryGuard::active()) {
    target->kind = PathTarget::Kind::kKernel;
    target->kernel_path = path;
    return;
  }
  Resolve(dirfd, path, target);
  if (target->needs_walk) WalkDotDot(target);
  if (target->gkfs()) {
    if (int denied = ancestors::Check(target->internal)) target->SetError(denied);
  }
}
inline void ResolveArg(const char* path, PathTarget* target) { ResolveArg(AT_FDCWD, path, target); }

// ResolveArg for a path whose last component the call creates, removes or renames (mkdir,
// mknod, symlink, open with O_CREAT, unlink, rmdir, rename, the new name of link). A path
// ending in "." or ".." names no such entry: once the directory it is in is found, the
// target is the kernel's refusal of the call, dot_error or dotdot_error (links.h).
inline void ResolveEntryArg(int dirfd, const char* path, int dot_error, int dotdot_error,
                            PathTarget* target) {
  if (ReentryGuard::active()) return ResolveArg(dirfd, path, target);
  Resolve(dirfd, path, target);
  if (target->last != PathTarget::Last::kName) return RefuseDots(target, dot_error, dotdot_error);
  if (target->needs_walk) WalkDotDot(target);
}

// Status -> 0 / -1 with errno, for hooks returning int.
inline int Result(const Status& s) { return s.ok() ? 0 : FailWith(s); }

// Lookup (links.h) for hooks: 0 when the record is in *md, 1 when a symbolic link led to the
// kernel path now in *t (the hook then calls libc), -1 with errno.
inline int LookupArg(PathTarget* t, bool follow_last, Metadata* md) {
  switch (Lookup(t, follow_last, md)) {
    case Found::kGkfs:
      return 0;
    case Found::kKernel:
      return 1;
    case Found::kError:
      break;
  }
  return -1;
}

// The body of a hook acting on a path's last component without looking it up first (unlink,
// mkdir, rename, ...): kernel(path) for a kernel target, gkfs(target) for a gkfs one. When
// gkfs fails with ENOENT or ENOTDIR because a symbolic link lies among the ancestors, the
// target is resolved (links.h) and the hook runs once more, on the kernel or on gkfs.
template <typename Kernel, typename Gkfs>
auto OnPath(PathTarget& t, Kernel&& kernel, Gkfs&& gkfs) -> decltype(kernel(t.kernel_path)) {
  for (bool resolved = false;; resolved = true) {
    if (t.kernel()) return kernel(t.kernel_path);
    if (!t.gkfs()) return FailWith(t.error);
    auto r = gkfs(t);
    if (r >= 0 || resolved || (errno != ENOENT && errno != ENOTDIR) || !ResolveAncestors(&t)) {
      return r;
    }
  }
}

}  // namespace gkfs::preload
