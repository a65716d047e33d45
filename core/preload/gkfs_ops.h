// The gkfs side of the hooks: POSIX semantics (flags, positions, errno) on top of the Client.
// Every function returns like the libc call it backs (-1 and errno on failure) and may only be
// called for targets already known to be in gkfs.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <string>

#include "gkfs/client.h"
#include "preload/fd_table.h"
#include "preload/path_resolver.h"
#include "preload/preload.h"

namespace gkfs::preload {

// Runs fn(Client&) -> Status with the re-entrancy guard held, connecting on first use.
// Never in a vfork child: it would drive the parent's UCX state from another process.
// errno is the caller's again when fn succeeds: the library's own work (connecting, UCX)
// leaves no trace in it.
template <typename Fn>
Status WithClient(Fn&& fn) {
  if (InVforkChild()) return Status::Error(EIO, "gkfs is not usable in a vfork child");
  const int saved_errno = errno;
  ReentryGuard guard;
  ClientUse use;
  Status status;
  Client* client = AcquireClient(&status);
  if (client == nullptr) return status;
  status = fn(*client);
  if (status.ok()) errno = saved_errno;
  return status;
}

// Largest transfer of one read/write call, as Linux (MAX_RW_COUNT).
constexpr size_t kMaxTransfer = 0x7ffff000;

// open(2) on a gkfs path: creates/truncates as flags say and returns a new descriptor.
// Symbolic links are followed (links.h); where one leads out of gkfs, *target becomes that
// kernel path and the descriptor is the kernel's.
int OpenPath(PathTarget* target, int flags, mode_t mode);

// read/write at `offset`, or at (and advancing) the file position when offset < 0.
ssize_t ReadFd(int fd, const OpenFile& file, void* buf, size_t len, int64_t offset);
ssize_t WriteFd(int fd, const OpenFile& file, const void* buf, size_t len, int64_t offset);
// As Linux, an unprivileged process that writes or truncates a file drops its set-user-ID
// bit, and its set-group-ID bit when group execution is on or the process is outside the
// file's group (OpenFile::setid_bits says whether to look).
void DropSetIdOnWrite(const OpenFile& file);
int64_t SeekFd(int fd, const OpenFile& file, int64_t offset, int whence);

// rmdir(2) and unlinkat(AT_REMOVEDIR); they refuse a path ending in "." with EINVAL and one
// ending in ".." with ENOTEMPTY (ResolveEntryArg).
int RemoveDirectory(const PathTarget& target);
constexpr int kRmdirDot = EINVAL;
constexpr int kRmdirDotDot = ENOTEMPTY;

// Metadata of an open file (its inode, whatever became of its name since it was opened;
// StatFd: EFAULT when *st cannot be written), and of an internal path as it is (no links
// followed).
int StatOpen(const OpenFile& file, Metadata* md);
int StatFd(const OpenFile& file, struct stat* st);
int StatInternal(const std::string& internal, Metadata* md);
// struct stat of a record (a link's st_size is its target's length).
void FillStat(const Metadata& md, const std::string& internal, struct stat* st);

// st_ino and d_ino of a path (stable, never 0).
uint64_t InodeOf(const std::string& internal);
// st_dev of this mount.
dev_t DeviceId();
// The caller's umask (read once, then kept until umask() changes it).
mode_t CurrentUmask();
// Called by the umask() hook after the system call: the next CurrentUmask() reads again.
void ForgetUmask();

}  // namespace gkfs::preload
