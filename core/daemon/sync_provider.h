// SyncProvider: what a client's fsync(2) (fdatasync, sync_file_range, syncfs) asks of this
// daemon: the chunk files of a file, or of every file, through the chunk store, and the
// metadata log through the metadata provider; under --sync-mode none, nothing. Counts the
// syncs it served (the Health reply). Thread-safe; a sync blocks on the disk, so handlers
// run it on an I/O thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "daemon/data_provider.h"
#include "daemon/metadata_provider.h"
#include "gkfs/daemon.h"

namespace gkfs {

// What the Sync handler asks of the daemon's storage, whichever it is: SyncProvider (chunk
// store and metadata log) or the forwarding provider's (the PFS file by path, or syncfs).
class SyncBackend {
 public:
  struct Work {
    uint64_t file_id = 0;
    std::string path;         // the file, for a store that knows files by path (the PFS)
    bool chunks = false;      // file_id's chunk files written since their last sync
    bool datasync = false;    // those by fdatasync
    bool metadata = false;    // the metadata log: every record this daemon holds
    bool everything = false;  // every chunk file of every file (syncfs)
    std::chrono::milliseconds budget{0};  // chunk work stops after this; 0: no limit
    uint64_t epoch = 0;       // 0: a new sync; else the one its first call returned
  };
  virtual ~SyncBackend() = default;
  // Does `work`. *epoch is the sync's epoch (the caller sends it back when *done is false:
  // the budget ran out with work left). Errors: those of fsync, syncfs and the metadata
  // log (EIO, ENOSPC, ...); what failed stays to be synced by the next call.
  virtual Status Sync(const Work& work, uint64_t* epoch, bool* done) = 0;
  // Syncs served since start (every call of Sync, in any mode).
  virtual uint64_t syncs() const = 0;
};

class SyncProvider : public SyncBackend {
 public:
  SyncProvider(SyncMode mode, DataProvider* data, MetadataProvider* metadata)
      : mode_(mode), data_(*data), metadata_(*metadata) {}

  Status Sync(const Work& work, uint64_t* epoch, bool* done) override;
  uint64_t syncs() const override { return syncs_.load(std::memory_order_relaxed); }

 private:
  const SyncMode mode_;
  DataProvider& data_;
  MetadataProvider& metadata_;
  std::atomic<uint64_t> syncs_{0};
};

}  // namespace gkfs
