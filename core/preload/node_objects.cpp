#include "common/path_util.h"
#include "preload/node_objects.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>

#include "preload/libc.h"
#include "preload/preload.h"

namespace gkfs::preload::nodes {
namespace {

constexpr char kNodeDir[] = "/dev/shm/gkfs-nodes";

// Which file system: its hosts file (absolute), as the lock files (locks.cpp) tell them apart.
uint64_t FileSystemKey() {
  static const uint64_t key = Fnv1a(config().hosts_file);
  return key;
}

void MakeNodeDir() {
  if (syscall(SYS_mkdir, kNodeDir, 01777) == 0) syscall(SYS_chmod, kNodeDir, 01777);
}

}  // namespace

std::string KernelPath(uint64_t ino) {
  char path[sizeof(kNodeDir) + 40];
  snprintf(path, sizeof(path), "%s/%016" PRIx64 "-%016" PRIx64, kNodeDir, FileSystemKey(), ino);
  return path;
}

int OpenSpecial(const Metadata& md, int flags) {
  if (!S_ISFIFO(md.mode)) return FailWith(ENXIO);
  static const auto real = NextSymbol<int (*)(int, const char*, int, ...)>("openat");
  const std::string path = KernelPath(md.file_id);
  flags &= ~(O_CREAT | O_EXCL | O_TRUNC);
  for (int attempt = 0; attempt < 2; ++attempt) {
    int fd = real(AT_FDCWD, path.c_str(), flags);
    if (fd >= 0 || errno != ENOENT) return fd;
    // First use on this host: make it, open to everyone (gkfs checked the FIFO's own mode).
    MakeNodeDir();
    if (syscall(SYS_mknodat, AT_FDCWD, path.c_str(), S_IFIFO | 0666, 0) == 0) {
      syscall(SYS_chmod, path.c_str(), 0666);
    }
  }
  return FailWith(EIO);
}

void PrepareBind(uint64_t ino) {
  MakeNodeDir();
  syscall(SYS_unlinkat, AT_FDCWD, KernelPath(ino).c_str(), 0);
}

}  // namespace gkfs::preload::nodes
