#include "common/path_util.h"
#include "preload/open_registry.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include <mutex>
#include <unordered_map>
#include <vector>

#include "preload/gkfs_ops.h"
#include "preload/libc.h"
#include "preload/preload.h"

namespace gkfs::preload::opens {
namespace {

constexpr size_t kBatch = 64;

struct Registry {
  std::mutex mu;
  uint64_t session = 0;                          // GUARDED_BY(mu); 0: not drawn yet
  std::unordered_map<uint64_t, uint32_t> opens;  // GUARDED_BY(mu): ino -> counted opens
  std::vector<uint64_t> pending;                 // GUARDED_BY(mu): releases not sent yet
  std::vector<std::string> pending_paths;        // GUARDED_BY(mu): what each was opened by
  bool renewing = false;                         // GUARDED_BY(mu): the renewal thread runs
};

// Before the first renewal the lease is not known yet: renew soon after the first open.
constexpr auto kFirstRenewal = std::chrono::milliseconds(250);

// Never freed: hooks may run during exit, after static destructors.
Registry& State() {
  static Registry* registry = new Registry();
  return *registry;
}

// The start of a small /proc file, NUL-terminated; false if unreadable.
bool ReadProc(const char* path, char (&buf)[512]) {
  int fd = sys::Open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = syscall(SYS_read, fd, buf, sizeof(buf) - 1);
  sys::Close(fd);
  buf[n > 0 ? n : 0] = '\0';
  return n > 0;
}

// The process's start time (field 22 of /proc/self/stat, clock ticks since boot), as text.
std::string StartTime() {
  char buf[512];
  if (!ReadProc("/proc/self/stat", buf)) return "";
  const char* p = strrchr(buf, ')');  // past the command name, which may hold spaces
  for (int field = 2; field < 22 && p != nullptr; ++field) {
    p = strchr(p + 1, ' ');
  }
  return p == nullptr ? "" : std::string(p + 1, strcspn(p + 1, " "));
}

// FNV-1a of the boot id, pid and start time: the same for a process across exec, different
// for any other process of any host.
uint64_t NewSession() {
  char boot[512] = "";
  ReadProc("/proc/sys/kernel/random/boot_id", boot);
  std::string key = std::string(boot) + "/" + std::to_string(syscall(SYS_getpid)) + "/" + StartTime();
  uint64_t h = Fnv1a(key);
  return h == 0 ? 1 : h;
}

// Renews this session's lease at the homes of the files it holds open, every third of the
// lease, for the life of the process: a process killed outright stops renewing, and the
// daemons reclaim what it alone held once the lease runs out (open_registry.h).
void RenewLoop() {
  Registry& r = State();
  auto interval = std::chrono::milliseconds(kFirstRenewal);
  for (;;) {
    std::this_thread::sleep_for(interval);
    std::vector<uint64_t> held;
    uint64_t session = 0;
    {
      std::lock_guard<std::mutex> l(r.mu);
      for (const auto& [ino, count] : r.opens) held.insert(held.end(), count, ino);
      if (r.session == 0) r.session = NewSession();
      session = r.session;
    }
    if (held.empty()) continue;
    bool configured = false;
    uint32_t lease_ms = 0;
    Status s = WithClient([&](Client& c) {
      configured = true;
      lease_ms = c.config().session_lease_ms;
      return c.Renew(session, held);
    });
    if (!s.ok()) Log(LogLevel::kErrors, "renewing the lease of %zu open files failed: %s", held.size(), s.ToString().c_str());
    if (configured && lease_ms < 3) return;  // daemons that keep no sessions (forwarding mode)
    if (lease_ms >= 3) interval = std::chrono::milliseconds(lease_ms / 3);
  }
}

// REQUIRES: r.mu held. Starts the renewal thread once per process image (and fork child),
// with every signal blocked: the application's signals never land on it.
void StartRenewingLocked(Registry& r) {
  if (r.renewing) return;
  r.renewing = true;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  std::thread(RenewLoop).detach();
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

}  // namespace

uint64_t Session() {
  Registry& r = State();
  std::lock_guard<std::mutex> l(r.mu);
  if (r.session == 0) r.session = NewSession();
  return r.session;
}

void Opened(uint64_t ino) {
  Registry& r = State();
  std::lock_guard<std::mutex> l(r.mu);
  ++r.opens[ino];
  StartRenewingLocked(r);
}

void Closed(uint64_t ino, const std::string& path) {
  Registry& r = State();
  bool flush = false;
  {
    std::lock_guard<std::mutex> l(r.mu);
    auto it = r.opens.find(ino);
    if (it == r.opens.end()) return;
    r.pending.push_back(ino);
    r.pending_paths.push_back(path);
    if (--it->second == 0) r.opens.erase(it);
    flush = r.pending.size() >= kBatch;
  }
  if (flush) Flush();
}

void Flush() {
  Registry& r = State();
  std::vector<uint64_t> batch;
  uint64_t session = 0;
  {
    std::lock_guard<std::mutex> l(r.mu);
    if (r.pending.empty()) return;
    batch.swap(r.pending);
    r.pending_paths.clear();
    // Counts inherited over exec (a program run as "cmd > f") were made by this session
    // before the exec; it may not have been drawn again in this image yet.
    if (r.session == 0) r.session = NewSession();
    session = r.session;
  }
  Status s = WithClient([&](Client& c) { return c.Release(session, batch); });
  if (!s.ok()) Log(LogLevel::kErrors, "releasing %zu open files failed: %s", batch.size(), s.ToString().c_str());
}

Status Remove(const std::string& path) {
  Registry& r = State();
  std::vector<uint64_t> owed;
  std::vector<std::string> closed_under;
  uint64_t session = 0;
  {
    std::lock_guard<std::mutex> l(r.mu);
    owed.swap(r.pending);
    closed_under.swap(r.pending_paths);
    if (r.session == 0) r.session = NewSession();
    session = r.session;
  }
  const std::vector<uint64_t> taken = owed;
  Status s = WithClient([&](Client& c) { return c.RemoveReleasing(path, session, &owed); });
  if (owed.empty()) return s;
  // Queued again with the path each was closed under (taken keeps the pairs, in order).
  bool closed_here = false;
  {
    std::lock_guard<std::mutex> l(r.mu);
    std::vector<bool> used(taken.size(), false);
    for (uint64_t ino : owed) {
      size_t i = 0;
      while (i < taken.size() && (used[i] || taken[i] != ino)) ++i;
      if (i == taken.size()) continue;
      used[i] = true;
      closed_here |= closed_under[i].empty() || closed_under[i] == path;
      r.pending.push_back(ino);
      r.pending_paths.push_back(closed_under[i]);
    }
  }
  if (closed_here) Flush();
  return s;
}

void ReleaseAll() {
  Registry& r = State();
  {
    std::lock_guard<std::mutex> l(r.mu);
    for (const auto& [ino, count] : r.opens) r.pending.insert(r.pending.end(), count, ino);
    r.pending_paths.resize(r.pending.size());
    r.opens.clear();
  }
  Flush();
}

void AtForkChild() {
  Registry& r = State();
  // The only thread of the child: the lock may be held by a parent thread that is gone.
  new (&r.mu) std::mutex();
  r.session = 0;
  r.opens.clear();
  r.pending.clear();
  r.pending_paths.clear();
  r.renewing = false;  // the parent's renewal thread is not in the child
}

}  // namespace gkfs::preload::opens
