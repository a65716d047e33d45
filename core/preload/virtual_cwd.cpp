// The virtual working directory and its record for exec'd children.
//
// Record grammar (memfd "gkfs-cwd", content at offset 0, host byte order):
//   record := magic:u32 (0x64776367, "gcwd") path_len:u32 kernel_dev:u64 kernel_ino:u64
//             path:byte[path_len]
// kernel_dev/kernel_ino identify the kernel cwd the virtual one was set over. The record is
// written once and never changed: a new chdir makes a new memfd, so a forked child's chdir
// never changes its parent's record.
#include <fcntl.h>
#include <linux/limits.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <atomic>
#include <cstring>
#include <mutex>

#include "preload/libc.h"
#include "preload/path_resolver.h"
#include "preload/preload.h"

namespace gkfs::preload::cwd {

namespace {

constexpr uint32_t kMagic = 0x64776367;
constexpr int kRecordFdFloor = 512;  // keep clear of the numbers shells use for redirections

struct RecordFixed {
  uint32_t magic;
  uint32_t path_len;
  uint64_t dev;
  uint64_t ino;
};

std::mutex g_mu;
std::atomic<bool> g_virtual{false};
std::string& CwdPath() {  // GUARDED_BY(g_mu); leaked like every preload global
  static auto* path = new std::string();
  return *path;
}
std::atomic<int> g_record_fd{-1};
std::atomic<bool> g_kernel_above_mount{false};

std::string& KernelPath() {  // GUARDED_BY(g_mu)
  static auto* path = new std::string();
  return *path;
}

// REQUIRES: g_mu held.
void RefreshKernelLocked() {
  char buf[PATH_MAX];
  if (sys::Getcwd(buf, sizeof(buf)) < 0) buf[0] = '\0';
  KernelPath() = buf;
  const std::string& mount = config().mountdir;
  size_t n = KernelPath().size();
  bool above = n > 0 && (KernelPath() == "/" ||
                         (mount.compare(0, n, KernelPath()) == 0 && mount.size() > n &&
                          mount[n] == '/'));
  g_kernel_above_mount.store(above, std::memory_order_release);
}

bool KernelCwdIdentity(uint64_t* dev, uint64_t* ino) {
  struct stat st;
  if (sys::Stat(".", &st) != 0) return false;
  *dev = st.st_dev;
  *ino = st.st_ino;
  return true;
}

// Moves fd to a number >= kRecordFdFloor when the limit allows it.
int MoveHigh(int fd) {
  int high = sys::Fcntl(fd, F_DUPFD, kRecordFdFloor);
  if (high < 0) return fd;
  sys::Close(fd);
  return high;
}

int WriteRecord(const std::string& internal) {
  RecordFixed r{kMagic, static_cast<uint32_t>(internal.size()), 0, 0};
  if (!KernelCwdIdentity(&r.dev, &r.ino)) return -1;
  int fd = sys::MemfdCreate("gkfs-cwd", 0);  // inherited across exec on purpose
  if (fd < 0) return -1;
  std::string bytes(reinterpret_cast<const char*>(&r), sizeof(r));
  bytes += internal;
  if (sys::Pwrite(fd, bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size())) {
    sys::Close(fd);
    return -1;
  }
  return MoveHigh(fd);
}

void ReplaceRecord(int fd) {
  int old = g_record_fd.exchange(fd);
  if (old >= 0) sys::Close(old);
}

}  // namespace

bool IsVirtual() { return g_virtual.load(std::memory_order_acquire); }

bool Get(std::string* internal) {
  if (!IsVirtual()) return false;
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_virtual.load(std::memory_order_relaxed)) return false;
  *internal = CwdPath();
  return true;
}

void Set(const std::string& internal) {
  std::lock_guard<std::mutex> lock(g_mu);
  CwdPath() = internal;
  g_virtual.store(true, std::memory_order_release);
  ReplaceRecord(WriteRecord(internal));
}

void ChangedToKernel() {
  std::lock_guard<std::mutex> lock(g_mu);
  g_virtual.store(false, std::memory_order_release);
  ReplaceRecord(-1);
  RefreshKernelLocked();
}

bool KernelCwd(std::string* absolute) {
  std::lock_guard<std::mutex> lock(g_mu);
  *absolute = KernelPath();
  return !absolute->empty();
}

bool KernelCwdMayReach(const char* relative_path) {
  return g_kernel_above_mount.load(std::memory_order_acquire) ||
         std::strstr(relative_path, "..") != nullptr;
}

bool IsRecordFd(int fd) { return fd >= 0 && fd == g_record_fd.load(std::memory_order_relaxed); }

void MoveRecordAwayFrom(int fd) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!IsRecordFd(fd)) return;
  int moved = sys::Fcntl(fd, F_DUPFD, kRecordFdFloor);
  if (moved < 0) moved = sys::Fcntl(fd, F_DUPFD, 3);
  g_record_fd.store(moved);  // the application's dup2 closes fd itself
}

void AdoptRecord(int fd) {
  char buf[sizeof(RecordFixed) + PATH_MAX];
  ssize_t n = sys::Pread(fd, buf, sizeof(buf), 0);
  RecordFixed r;
  uint64_t dev = 0, ino = 0;
  if (n >= static_cast<ssize_t>(sizeof(r))) std::memcpy(&r, buf, sizeof(r));
  bool valid = n >= static_cast<ssize_t>(sizeof(r)) && r.magic == kMagic &&
               sizeof(r) + r.path_len <= static_cast<size_t>(n) && r.path_len > 0 &&
               KernelCwdIdentity(&dev, &ino) && dev == r.dev && ino == r.ino;
  if (!valid) {  // stale: someone changed the kernel cwd without us
    sys::Close(fd);
    return;
  }
  std::lock_guard<std::mutex> lock(g_mu);
  CwdPath().assign(buf + sizeof(r), r.path_len);
  g_virtual.store(true, std::memory_order_release);
  ReplaceRecord(fd);
}

void InitFromKernelCwd() {
  std::string kernel;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    RefreshKernelLocked();
    kernel = KernelPath();
  }
  if (IsVirtual() || kernel.empty()) return;
  PathTarget target;
  Resolve(kernel.c_str(), &target);
  if (target.gkfs()) Set(target.internal);
}

}  // namespace gkfs::preload::cwd
