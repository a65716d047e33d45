// DirtyChunks: which chunk files of which file were written since their last sync, so that
// fsync of a file syncs those and nothing else (the chunk files of a file this daemon holds
// may be thousands; an fsync after appending a line should cost one). The chunk store owns
// one. Thread-safe: one mutex, held for map updates only, never across a system call.
//
// Epochs order syncs against writes: a sync begins with NewEpoch() and takes only chunks
// that became dirty before it, so writers that keep going cannot keep a sync going.
//
// Bounded: past `capacity` tracked chunks it forgets everything and says so (overflowed());
// the next sync must then sync the whole file system once (Reset(), syncfs(2)). A
// daemon that starts on a root directory with data does the same (it cannot know what its
// previous run left unsynced in the page cache).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace gkfs {

class DirtyChunks {
 public:
  // What a sync takes for one file: chunk indices, with the epoch each became dirty in,
  // and whether the file's chunk directory (new chunk files in it) or the chunk store's
  // top directory (a new file directory) changed.
  struct Batch {
    std::vector<std::pair<uint64_t, uint64_t>> chunks;  // (chunk index, dirty since epoch)
    bool file_dir_changed = false;
    bool top_dir_changed = false;
    bool empty() const { return chunks.empty() && !file_dir_changed && !top_dir_changed; }
  };

  explicit DirtyChunks(size_t capacity) : capacity_(capacity) {}

  // The chunks of file_id were written or truncated. REQUIRES: those writes completed (their
  // bytes are in the page cache), so a sync that takes them covers them.
  void Add(uint64_t file_id, const std::vector<uint64_t>& chunks, bool file_dir_changed,
           bool top_dir_changed);
  // The file's chunks were removed: nothing of it is left to sync.
  void Forget(uint64_t file_id);

  // A new sync's epoch: chunks made dirty from now on belong to later syncs.
  uint64_t NewEpoch();
  // Moves file_id's chunks that became dirty before `epoch` (and its directory flags) into
  // *out. Returns false, taking nothing, while overflowed().
  bool Take(uint64_t file_id, uint64_t epoch, Batch* out);
  // Gives back what a sync took and did not sync (it failed, or its time ran out).
  void PutBack(uint64_t file_id, const Batch& rest);

  // Tracking was dropped: only a sync of the whole file system is sure to cover every file.
  bool overflowed() const;
  // Drops everything tracked and the overflow mark. REQUIRES: the caller syncs the whole
  // file system next (what was written before this call is covered only by that).
  void Reset();
  // Marks everything unknown (start-up on old data, a failed whole-system sync).
  void SetOverflow();

  size_t tracked() const;  // chunks tracked (tests)

 private:
  struct File {
    std::map<uint64_t, uint64_t> chunks;  // chunk index -> epoch it became dirty in
    bool file_dir_changed = false;
    bool top_dir_changed = false;
  };
  void ClearLocked();  // REQUIRES: mu_ held

  const size_t capacity_;
  mutable std::mutex mu_;
  std::unordered_map<uint64_t, File> files_;  // GUARDED_BY(mu_)
  size_t tracked_ = 0;                        // GUARDED_BY(mu_): sum of chunks.size()
  uint64_t epoch_ = 1;                        // GUARDED_BY(mu_)
  bool overflowed_ = false;                   // GUARDED_BY(mu_)
};

}  // namespace gkfs
