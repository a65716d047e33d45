// Node-local advisory locks through lock files in /dev/shm (locks.h).
#include "common/path_util.h"
#include "preload/locks.h"

#include <sys/file.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <mutex>
#include <unordered_map>

#include "preload/caller_memory.h"
#include "preload/gkfs_ops.h"
#include "preload/libc.h"
#include "preload/preload.h"

namespace gkfs::preload::locks {

namespace {

constexpr char kLockDir[] = "/dev/shm/gkfs-locks";

std::mutex g_mu;

// Lock descriptor of each path this process holds POSIX locks on. GUARDED_BY(g_mu); leaked.
std::unordered_map<std::string, int>& ProcessLocks() {
  static auto* locks = new std::unordered_map<std::string, int>();
  return *locks;
}

// Opens (creating it, readable and writable by all) the lock file standing for `path`.
int OpenLockFile(const std::string& path) {
  // FNV-1a over "<hosts file>\0<path>"
  uint64_t h = Fnv1a(path, Fnv1a(std::string_view("\0", 1), Fnv1a(config().hosts_file)));
  char name[sizeof(kLockDir) + 32];
  std::snprintf(name, sizeof(name), "%s/%016llx", kLockDir, static_cast<unsigned long long>(h));
  int fd = sys::Open(name, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0 && errno == ENOENT) {
    if (syscall(SYS_mkdir, kLockDir, 01777) == 0) syscall(SYS_chmod, kLockDir, 01777);
    fd = sys::Open(name, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  }
  if (fd < 0) return FailWith(errno == EACCES ? EACCES : ENOLCK);
  syscall(SYS_fchmod, fd, 0666);  // whatever the creator's umask was
  return RelocateInternalFd(fd);
}

// The descriptor that carries POSIX locks of this process on `path`.
int ProcessLockFd(const std::string& path) {
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = ProcessLocks().find(path);
  if (it != ProcessLocks().end()) return it->second;
  int fd = OpenLockFile(path);
  if (fd >= 0) ProcessLocks()[path] = fd;
  return fd;
}

// The descriptor that carries flock and OFD locks of this open file description.
int DescriptionLockFd(OpenFile& file) {
  std::lock_guard<std::mutex> lock(file.lock_mu);
  if (file.lock_fd < 0) file.lock_fd = OpenLockFile(file.path);
  return file.lock_fd;
}

bool IsOfd(int cmd) { return cmd == F_OFD_SETLK || cmd == F_OFD_SETLKW || cmd == F_OFD_GETLK; }

}  // namespace

int Fcntl(int fd, OpenFile& file, int cmd, struct flock* lock) {
  lock = Launder(lock);
  if (!caller::Readable(lock, sizeof(*lock))) return FailWith(EFAULT);
  if (lock->l_type == F_RDLCK && !file.readable()) return FailWith(EBADF);
  if (lock->l_type == F_WRLCK && !file.writable()) return FailWith(EBADF);
  struct flock translated = *lock;
  if (lock->l_whence == SEEK_CUR || lock->l_whence == SEEK_END) {  // the lock file is empty
    int64_t base = fds::Position(fd);
    if (lock->l_whence == SEEK_END) {
      Metadata md;
      if (StatOpen(file, &md) != 0) return -1;
      base = static_cast<int64_t>(md.size);
    }
    if (base < 0) return -1;
    translated.l_start += base;
    translated.l_whence = SEEK_SET;
  }
  int lock_fd = IsOfd(cmd) ? DescriptionLockFd(file) : ProcessLockFd(file.path);
  if (lock_fd < 0) return -1;
  int r = sys::Fcntl(lock_fd, cmd, reinterpret_cast<long>(&translated));
  if (r == 0 && (cmd == F_GETLK || cmd == F_OFD_GETLK)) {
    if (!caller::WillWrite(lock, sizeof(*lock))) return FailWith(EFAULT);
    *lock = translated;
  }
  return r < 0 ? FailWith(errno) : r;
}

int Flock(OpenFile& file, int operation) {
  int lock_fd = DescriptionLockFd(file);
  if (lock_fd < 0) return -1;
  return static_cast<int>(syscall(SYS_flock, lock_fd, operation)) < 0 ? FailWith(errno) : 0;
}

void Closed(const std::string& path) {
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = ProcessLocks().find(path);
  if (it == ProcessLocks().end()) return;
  sys::Close(it->second);
  ProcessLocks().erase(it);
}

void LockForFork() { g_mu.lock(); }
void UnlockAfterFork() { g_mu.unlock(); }

}  // namespace gkfs::preload::locks
