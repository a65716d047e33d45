// RecentAttrs: the attributes gkfs-fuse last replied for each node, reused for the same
// thread's next GETATTR of that node, or search check of a LOOKUP below it (fuse/caller.h),
// within kReuseNs. With timeouts 0 the kernel asks LOOKUP and then GETATTR of the same node
// for stat, and a path walk looks up each name below the last: both answers come from one
// daemon round trip. Any change made through this mount forgets
// everything (Changed()), so a thread sees its own changes; a change made elsewhere shows
// at most kReuseNs late, and only to a thread that looked at the node within that window.
// Thread-safe (one mutex).
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <unordered_map>

namespace gkfs::fuse {

class RecentAttrs {
 public:
  static constexpr int64_t kReuseNs = 1000000;  // 1 ms
  // The attributes of node as replied to thread tid at now_ns.
  void Remember(uint64_t node, uint32_t tid, const struct stat& st, int64_t now_ns);
  // True (and *st) if thread tid was given node's attributes less than kReuseNs before
  // now_ns and nothing changed through this mount since. Never for tid 0 (requests the
  // kernel makes on no thread's behalf).
  bool Reuse(uint64_t node, uint32_t tid, int64_t now_ns, struct stat* st) const;
  // Something changed through this mount: no reuse of anything remembered before.
  void Changed() { generation_.fetch_add(1, std::memory_order_acq_rel); }

 private:
  struct Entry {
    uint32_t tid = 0;
    uint64_t generation = 0;
    int64_t at_ns = 0;
    struct stat st {};
  };
  static constexpr size_t kMaxEntries = 4096;  // past it the map starts again (all expired by then)
  std::atomic<uint64_t> generation_{0};
  mutable std::mutex mu_;
  std::unordered_map<uint64_t, Entry> entries_;  // GUARDED_BY(mu_)
};

inline void RecentAttrs::Remember(uint64_t node, uint32_t tid, const struct stat& st, int64_t now_ns) {
  uint64_t generation = generation_.load(std::memory_order_acquire);
  std::lock_guard<std::mutex> l(mu_);
  if (entries_.size() >= kMaxEntries) entries_.clear();
  entries_[node] = Entry{tid, generation, now_ns, st};
}

inline bool RecentAttrs::Reuse(uint64_t node, uint32_t tid, int64_t now_ns, struct stat* st) const {
  uint64_t generation = generation_.load(std::memory_order_acquire);
  std::lock_guard<std::mutex> l(mu_);
  auto it = entries_.find(node);
  if (it == entries_.end()) return false;
  const Entry& e = it->second;
  if (tid == 0 || e.tid != tid || e.generation != generation || now_ns - e.at_ns >= kReuseNs || now_ns < e.at_ns) return false;
  *st = e.st;
  return true;
}

}  // namespace gkfs::fuse
