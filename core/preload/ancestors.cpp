#include "preload/ancestors.h"

#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <unordered_map>

#include "preload/gkfs_ops.h"
#include "preload/permissions.h"

namespace gkfs::preload::ancestors {
namespace {

constexpr int64_t kTtlNs = 1000000000;  // the staleness window
constexpr size_t kMaxCached = 4096;

struct Cached {
  Metadata md;
  int64_t expires_ns = 0;
};

struct Cache {
  std::mutex mu;
  std::unordered_map<std::string, Cached> dirs;  // GUARDED_BY(mu)
};

Cache& State() {
  static Cache* cache = new Cache();  // never freed: hooks run during exit
  return *cache;
}

int64_t MonotonicNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// The record of directory `dir`, from the cache or a Stat; false when it cannot be had.
bool Directory(const std::string& dir, Metadata* md) {
  Cache& c = State();
  const int64_t now = MonotonicNs();
  {
    std::lock_guard<std::mutex> l(c.mu);
    auto it = c.dirs.find(dir);
    if (it != c.dirs.end() && it->second.expires_ns > now) {
      *md = it->second.md;
      return true;
    }
  }
  Status s = WithClient([&](Client& client) { return client.Stat(dir, md); });
  if (!s.ok() || !md->is_dir()) return false;
  std::lock_guard<std::mutex> l(c.mu);
  if (c.dirs.size() >= kMaxCached) c.dirs.clear();
  c.dirs[dir] = Cached{*md, now + kTtlNs};
  return true;
}

}  // namespace

int Check(const std::string& internal) {
  if (geteuid() == 0 || internal == "/" || InVforkChild()) return 0;
  // "/", then each directory down to the parent: "/", "/a", "/a/b" for "/a/b/c". `slash`
  // ends the name of the directory checked (0: the root).
  for (size_t slash = 0;;) {
    Metadata md;
    if (!Directory(slash == 0 ? "/" : internal.substr(0, slash), &md)) return 0;
    if (!MayAccess(md, X_OK)) return EACCES;
    slash = internal.find('/', slash + 1);
    if (slash == std::string::npos) return 0;
  }
}

void Forget() {
  Cache& c = State();
  std::lock_guard<std::mutex> l(c.mu);
  c.dirs.clear();
}

}  // namespace gkfs::preload::ancestors
