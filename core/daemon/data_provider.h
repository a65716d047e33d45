// DataProvider: the chunk store. Chunk i of the file with id F is the file
// <rootdir>/chunks/<F as 16 hex digits>/<i in decimal> (docs/formats.md). Writes complete
// (pwrite returned) before the reply, so an acknowledged write survives a daemon crash.
// Thread-safe: reads and writes of a file run concurrently; its truncation and removal
// exclude them (a lock stripe per file id), so a removal's rmdir never races a write's
// mkdir+open of the same file's directory. Reads keep their chunk files open (ChunkFds,
// at most kKeptReadFds); truncation and removal close a file's before they unlink.
//
// Durability (fsync): writes leave their bytes in the page cache and note the chunk files
// they touched (DirtyChunks); SyncFile starts write-back of those of one file, fsyncs each,
// then the directories that got new entries. Syncs of one file run one at a time (a sync must not return while another
// still syncs what the first one's caller wrote); a whole-system sync excludes them all.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/buffer.h"
#include "daemon/chunk_fds.h"
#include "daemon/dirty_chunks.h"
#include "gkfs/status.h"
#include "rpc/schema.h"

namespace gkfs {

class DataProvider {
 public:
  // Chunk files tracked for fsync before DirtyChunks gives up (a whole-system sync then).
  static constexpr size_t kMaxTrackedChunks = size_t{1} << 18;
  // Chunk files kept open for reads.
  static constexpr size_t kKeptReadFds = 256;

  // REQUIRES: chunk_size is a power of two. track_syncs false (--sync-mode none): writes
  // note nothing and SyncFile has nothing to do.
  DataProvider(std::string rootdir, uint64_t chunk_size, bool track_syncs = true,
               size_t max_tracked_chunks = kMaxTrackedChunks);
  // Creates <rootdir>/chunks. When it existed already (a restart), the first sync syncs the
  // whole file system: the previous run may have left unsynced data in the page cache.
  Status Init();

  // payload holds the pieces' bytes in order. EINVAL if sizes disagree or a piece leaves its chunk.
  Status Write(uint64_t file_id, const std::vector<rpc::Piece>& pieces, std::string_view payload);
  // Reads each piece; lengths[i] < pieces[i].length where the chunk file ends earlier (or is
  // absent). out receives the bytes read, concatenated.
  Status Read(uint64_t file_id, const std::vector<rpc::Piece>& pieces, std::vector<uint32_t>* lengths,
              Buffer* out, size_t* out_size);
  // Drops chunk data at and past size.
  Status Truncate(uint64_t file_id, uint64_t size);
  Status Remove(uint64_t file_id);
  // Bytes in chunk files, as last counted plus the bytes written since: Health reads it
  // without walking the chunk store (the walk takes ~0.1 s per 10 000 files); overwrites,
  // removals and truncations show at the next count. RefreshBytesUsed walks it and keeps the count;
  // NeedsRefresh says when the count is older than kBytesUsedMaxAge and no walk runs, and
  // marks one as started. Init counts once.
  uint64_t BytesUsed() const { return bytes_used_.load(std::memory_order_relaxed); }
  void RefreshBytesUsed();
  bool NeedsRefresh();
  static constexpr int64_t kBytesUsedMaxAgeNs = 2000000000;
  const std::string& chunk_dir() const { return chunk_dir_; }

  using Clock = std::chrono::steady_clock;
  // Starts a sync: writes completed before this call are what SyncFile(epoch) must cover.
  uint64_t NewSyncEpoch() { return dirty_.NewEpoch(); }
  // Makes the chunk data of file_id written before `epoch` began durable: its chunk files
  // written or truncated since their last sync are fsynced (fdatasync when datasync), then
  // its chunk directory when files were created in it, then the top chunk directory when
  // the file's directory is new. Past `deadline` it stops after the chunk file in hand and
  // sets *done = false: call again with the same epoch. An fsync error (EIO, ENOSPC, ...)
  // is returned and what was not synced stays to be synced.
  Status SyncFile(uint64_t file_id, bool datasync, uint64_t epoch, Clock::time_point deadline,
                  bool* done);
  // syncfs(2) of the chunk directory's file system: every file's data.
  Status SyncAll();
  size_t TEST_tracked_chunks() const { return dirty_.tracked(); }
  size_t TEST_kept_read_fds() const { return read_fds_.TEST_kept(); }

 private:
  std::string FileDir(uint64_t file_id) const;
  // REQUIRES: LockFor(file_id) held exclusively.
  Status TruncateLocked(uint64_t file_id, uint64_t size);
  Status CheckPieces(const std::vector<rpc::Piece>& pieces) const;

  std::shared_mutex& LockFor(uint64_t file_id) { return stripes_[file_id % stripes_.size()]; }
  std::mutex& SyncLockFor(uint64_t file_id) { return sync_stripes_[file_id % sync_stripes_.size()]; }
  // Notes what a write or truncation changed, for the next sync.
  void NoteDirty(uint64_t file_id, const std::vector<uint64_t>& chunks, bool file_dir_changed,
                 bool top_dir_changed);
  // REQUIRES: SyncLockFor(file_id) and sync_gate_ (shared) held.
  Status SyncBatch(uint64_t file_id, bool datasync, Clock::time_point deadline,
                   DirtyChunks::Batch* batch, bool* done);
  // REQUIRES: sync_gate_ held exclusively.
  Status SyncAllLocked();
  // fsync (fdatasync) of a file or directory; one that is gone (removed or truncated away
  // since it was noted) has nothing left to sync: OK.
  static Status SyncPath(const std::string& path, bool datasync, bool directory);

  uint64_t CountBytesUsed() const;

  std::string chunk_dir_;
  uint64_t chunk_size_;
  std::atomic<uint64_t> bytes_used_{0};
  std::atomic<int64_t> bytes_counted_ns_{0};  // CLOCK_MONOTONIC of the last count
  std::atomic<bool> counting_{false};
  const bool track_syncs_;
  std::array<std::shared_mutex, 64> stripes_;
  DirtyChunks dirty_;
  std::array<std::mutex, 64> sync_stripes_;  // one sync of a file at a time
  ChunkFds read_fds_{kKeptReadFds};
  std::shared_mutex sync_gate_;               // shared: file syncs; exclusive: SyncAll
};

}  // namespace gkfs
