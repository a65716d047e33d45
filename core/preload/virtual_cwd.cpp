// The virtual working directory, the kernel's as last seen, and LIBGKFS_CWD for exec.
#include <linux/limits.h>
#include <sys/stat.h>

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "preload/libc.h"
#include "preload/path_resolver.h"
#include "preload/preload.h"

namespace gkfs::preload::cwd {

namespace {

std::mutex g_mu;
std::atomic<bool> g_virtual{false};
std::atomic<bool> g_kernel_above_mount{false};

std::string& VirtualPath() {  // GUARDED_BY(g_mu); leaked like every preload global
  static auto* path = new std::string();
  return *path;
}

std::string& KernelPath() {  // GUARDED_BY(g_mu)
  static auto* path = new std::string();
  return *path;
}

// What a vfork child chdir'd to, for its exec only. Written by the child in memory it shares
// with its (suspended) parent, which never reads it: the pid tells whose it is.
struct ForExec {
  pid_t pid;
  bool is_virtual;
  char path[kMaxInternalPath + 1];
};
ForExec g_for_exec;

bool KernelCwdIdentity(uint64_t* dev, uint64_t* ino) {
  struct stat st;
  if (sys::Stat(".", &st) != 0) return false;
  *dev = st.st_dev;
  *ino = st.st_ino;
  return true;
}

// "LIBGKFS_CWD=<dev>:<ino>:<path>" into buf; nullptr if it does not fit.
const char* FormatEntry(const char* internal, char* buf, size_t size) {
  uint64_t dev, ino;
  if (!KernelCwdIdentity(&dev, &ino)) return nullptr;
  int n = std::snprintf(buf, size, "%s=%" PRIu64 ":%" PRIu64 ":%s", kEnvName, dev, ino, internal);
  return n > 0 && static_cast<size_t>(n) < size ? buf : nullptr;
}

// REQUIRES: g_mu held.
void RefreshKernelLocked() {
  char buf[PATH_MAX];
  if (sys::Getcwd(buf, sizeof(buf)) < 0) buf[0] = '\0';
  std::string& kernel = KernelPath();
  kernel = buf;
  const std::string& mount = config().mountdir;
  size_t n = kernel.size();
  bool above = n > 0 && (kernel == "/" || (mount.compare(0, n, kernel) == 0 &&
                                           mount.size() > n && mount[n] == '/'));
  g_kernel_above_mount.store(above, std::memory_order_release);
}

// LIBGKFS_CWD inherited from the program that exec'd us, if it still describes our cwd.
bool AdoptFromEnvironment() {
  const char* value = std::getenv(kEnvName);
  if (value == nullptr) return false;
  uint64_t dev, ino, my_dev, my_ino;
  int consumed = 0;
  if (std::sscanf(value, "%" SCNu64 ":%" SCNu64 ":%n", &dev, &ino, &consumed) != 2 ||
      consumed == 0 || value[consumed] != '/' || !KernelCwdIdentity(&my_dev, &my_ino) ||
      dev != my_dev || ino != my_ino) {
    return false;
  }
  std::lock_guard<std::mutex> lock(g_mu);
  VirtualPath() = value + consumed;
  g_virtual.store(true, std::memory_order_release);
  return true;
}

bool IsVirtual() { return g_virtual.load(std::memory_order_acquire); }

}  // namespace

bool Get(std::string* internal) {
  if (!IsVirtual()) return false;
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_virtual.load(std::memory_order_relaxed)) return false;
  *internal = VirtualPath();
  return true;
}

void Set(const std::string& internal) {
  char entry[kMaxInternalPath + 64];
  std::lock_guard<std::mutex> lock(g_mu);
  VirtualPath() = internal;
  g_virtual.store(true, std::memory_order_release);
  if (FormatEntry(internal.c_str(), entry, sizeof(entry))) {
    setenv(kEnvName, std::strchr(entry, '=') + 1, 1);
  }
}

void ChangedToKernel() {
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_virtual.exchange(false)) unsetenv(kEnvName);
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

void SetForExec(const std::string& internal) {
  g_for_exec.pid = static_cast<pid_t>(syscall(SYS_getpid));
  g_for_exec.is_virtual = internal.size() < sizeof(g_for_exec.path);
  if (g_for_exec.is_virtual) std::memcpy(g_for_exec.path, internal.c_str(), internal.size() + 1);
}

void LeaveForExec() {
  g_for_exec.pid = static_cast<pid_t>(syscall(SYS_getpid));
  g_for_exec.is_virtual = false;
}

// No locks and no allocation: a vfork child may run this while its parent holds g_mu.
const char* EnvEntryForExec(char* buf, size_t size) {
  if (g_for_exec.pid != 0 && g_for_exec.pid == static_cast<pid_t>(syscall(SYS_getpid))) {
    return g_for_exec.is_virtual ? FormatEntry(g_for_exec.path, buf, size) : nullptr;
  }
  if (!IsVirtual()) return nullptr;
  const char* value = std::getenv(kEnvName);  // Set() keeps it current
  if (value == nullptr || std::strlen(kEnvName) + 1 + std::strlen(value) >= size) return nullptr;
  std::snprintf(buf, size, "%s=%s", kEnvName, value);
  return buf;
}

void Init() {
  {
    std::lock_guard<std::mutex> lock(g_mu);
    RefreshKernelLocked();
  }
  if (AdoptFromEnvironment()) return;
  std::string kernel;
  if (!KernelCwd(&kernel)) return;
  PathTarget target;
  Resolve(kernel.c_str(), &target);
  if (target.gkfs()) Set(target.internal);
}

}  // namespace gkfs::preload::cwd
