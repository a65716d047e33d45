// Advisory locks on gkfs files, correct among the processes of one node (gkfs has no
// distributed locks, as GekkoFS): each gkfs path stands for an empty lock file in
// /dev/shm/gkfs-locks (named by a hash of the file system's hosts file and the path; kept, as
// removing a lock file would break exclusion), and the kernel arbitrates locks on it.
//
// * POSIX record locks (fcntl F_SETLK/F_SETLKW/F_GETLK, lockf) belong to the process and the
//   file: one lock descriptor per process and path, closed when the process closes any
//   descriptor of that path, which releases all its locks on the file, as POSIX says.
// * flock and OFD locks belong to the open file description: one lock descriptor per
//   OpenFile, shared by dup and inherited by fork, closed with the OpenFile. An exec'd program
//   does not inherit them.
//
// Thread-safe. Lock descriptors live above InternalFdFloor() and are close-on-exec.
#pragma once

#include <fcntl.h>

#include <string>

#include "preload/fd_table.h"

namespace gkfs::preload::locks {

// fcntl(fd, cmd, lock) for the lock commands (F_SETLK, F_SETLKW, F_GETLK and the F_OFD_
// forms) on gkfs descriptor fd. SEEK_CUR and SEEK_END ranges are taken against the gkfs file.
int Fcntl(int fd, OpenFile& file, int cmd, struct flock* lock);
// flock(2) on gkfs descriptor fd.
int Flock(OpenFile& file, int operation);
// After the process closed a descriptor of `path`: its POSIX record locks on it are gone.
void Closed(const std::string& path);

void LockForFork();
void UnlockAfterFork();

}  // namespace gkfs::preload::locks
