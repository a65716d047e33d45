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
#include "preload/path_resolver.h"
#include "preload/preload.h"

namespace gkfs::preload {

// The open gkfs file behind fd, or nullptr when the call belongs to libc.
inline OpenFileRef OurFile(int fd) {
  if (!fds::MaybeOurs(fd) || ReentryGuard::active()) return nullptr;
  return fds::Lookup(fd);
}

// Resolves a path argument; while the library itself is calling, every path is the kernel's.
inline void ResolveArg(int dirfd, const char* path, PathTarget* target) {
  if (ReentryGuard::active()) {
    target->kind = PathTarget::Kind::kKernel;
    target->kernel_path = path;
    return;
  }
  Resolve(dirfd, path, target);
}
inline void ResolveArg(const char* path, PathTarget* target) { ResolveArg(AT_FDCWD, path, target); }

// Status -> 0 / -1 with errno, for hooks returning int.
inline int Result(const Status& s) { return s.ok() ? 0 : FailWith(s); }

}  // namespace gkfs::preload
