// ChunkFds: read descriptors of chunk files kept open between reads, so that a small read
// costs one pread instead of an open, a pread and a close (the open's path walk cost more
// than the pread of 4 KiB). At most `capacity` descriptors, keyed by (file id, chunk index);
// past that the least recently used idle one is closed. Several readers may share one
// descriptor (pread has no position). Thread-safe (one mutex, held for a lookup only).
// REQUIRES of the owner (DataProvider): Drop(file) before any chunk file of that file is
// unlinked or replaced, with no reader of that file between Acquire and Release (the file's
// exclusive lock), so a kept descriptor never names a chunk file that is no longer there.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

namespace gkfs {

class ChunkFds {
 public:
  explicit ChunkFds(size_t capacity) : capacity_(capacity) {}
  ~ChunkFds();
  ChunkFds(const ChunkFds&) = delete;
  ChunkFds& operator=(const ChunkFds&) = delete;

  // A read descriptor of (file_id, chunk), opened (at path(), called only then) if none is
  // kept; -1 with errno from open(2) (ENOENT: a hole). Hand it back with Release().
  int Acquire(uint64_t file_id, uint64_t chunk, const std::function<std::string()>& path);
  void Release(uint64_t file_id, uint64_t chunk, int fd);
  // Closes every kept descriptor of file_id. REQUIRES: no reader of file_id holds one.
  void Drop(uint64_t file_id);
  size_t TEST_kept() const;

 private:
  struct Key {
    uint64_t file_id, chunk;
    bool operator==(const Key& o) const { return file_id == o.file_id && chunk == o.chunk; }
  };
  struct KeyHash {
    size_t operator()(const Key& k) const { return k.file_id * 0x9E3779B97F4A7C15ULL ^ k.chunk; }
  };
  struct Entry {
    int fd;
    int users = 0;
    std::list<Key>::iterator lru;  // position in lru_
  };
  // Closes idle descriptors, least recently used first, while more than capacity_ are kept.
  void EvictLocked();

  const size_t capacity_;
  mutable std::mutex mu_;
  std::unordered_map<Key, Entry, KeyHash> kept_;  // GUARDED_BY(mu_)
  std::list<Key> lru_;                            // most recently used first; GUARDED_BY(mu_)
};

}  // namespace gkfs
