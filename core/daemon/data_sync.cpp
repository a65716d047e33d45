// DataProvider's durability half: what writes note for the next sync, and the syncs.
#include <fcntl.h>
#include <inttypes.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "daemon/data_provider.h"

namespace gkfs {
namespace {

// Starts write-back of path's dirty pages without waiting for it; errors show at the fsync.
void StartWriteback(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
  close(fd);
}

}  // namespace

Status DataProvider::SyncPath(const std::string& path, bool datasync, bool directory) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | (directory ? O_DIRECTORY : 0));
  if (fd < 0) {
    if (errno == ENOENT) return Status::OK();
    return Status::Error(errno, "open " + path + " to sync it: " + strerror(errno));
  }
  int r = datasync ? fdatasync(fd) : fsync(fd);
  int err = errno;
  close(fd);
  if (r != 0) return Status::Error(err, (datasync ? "fdatasync " : "fsync ") + path + ": " + strerror(err));
  return Status::OK();
}

void DataProvider::NoteDirty(uint64_t file_id, const std::vector<uint64_t>& chunks, bool file_dir_changed,
                             bool top_dir_changed) {
  if (!track_syncs_ || (chunks.empty() && !file_dir_changed && !top_dir_changed)) return;
  dirty_.Add(file_id, chunks, file_dir_changed, top_dir_changed);
}

Status DataProvider::SyncFile(uint64_t file_id, bool datasync, uint64_t epoch, Clock::time_point deadline,
                              bool* done) {
  *done = true;
  if (!track_syncs_) return Status::OK();
  for (;;) {
    {
      std::shared_lock<std::shared_mutex> gate(sync_gate_);
      std::lock_guard<std::mutex> one_sync(SyncLockFor(file_id));
      DirtyChunks::Batch batch;
      if (dirty_.Take(file_id, epoch, &batch)) return SyncBatch(file_id, datasync, deadline, &batch, done);
    }
    // Tracking overflowed: only a sync of everything covers this file. Whoever gets here
    // first does it; the others find it done (their writes came before it began) and go
    // round once more for anything of theirs tracked since.
    std::unique_lock<std::shared_mutex> gate(sync_gate_);
    if (dirty_.overflowed()) return SyncAllLocked();
  }
}

Status DataProvider::SyncBatch(uint64_t file_id, bool datasync, Clock::time_point deadline,
                               DirtyChunks::Batch* batch, bool* done) {
  const std::string dir = FileDir(file_id);
  auto chunk_path = [&dir](uint64_t index) { return dir + "/" + std::to_string(index); };
  // Write-back of every chunk file starts first, then each is waited for: the file system
  // allocates and commits them together (on ext4 the first fsync's journal commit covers
  // the rest) instead of one journal commit, and one disk cache flush, per chunk file.
  if (batch->chunks.size() > 1) {
    for (const auto& chunk : batch->chunks) StartWriteback(chunk_path(chunk.first));
  }
  Status s;
  size_t synced = 0;
  for (; synced < batch->chunks.size(); ++synced) {
    if (synced > 0 && Clock::now() >= deadline) break;
    s = SyncPath(chunk_path(batch->chunks[synced].first), datasync, false);
    if (!s.ok()) break;
  }
  batch->chunks.erase(batch->chunks.begin(), batch->chunks.begin() + synced);
  // The directories once every chunk file is done: new names in them must survive too.
  if (s.ok() && batch->chunks.empty()) {
    if (batch->file_dir_changed && (s = SyncPath(dir, false, true)).ok()) batch->file_dir_changed = false;
    if (s.ok() && batch->top_dir_changed && (s = SyncPath(chunk_dir_, false, true)).ok()) {
      batch->top_dir_changed = false;
    }
  }
  dirty_.PutBack(file_id, *batch);
  *done = s.ok() && batch->empty();
  return s;
}

Status DataProvider::SyncAll() {
  if (!track_syncs_) return Status::OK();
  std::unique_lock<std::shared_mutex> gate(sync_gate_);
  return SyncAllLocked();
}

Status DataProvider::SyncAllLocked() {
  dirty_.Reset();  // syncfs covers every write that completed before this
  int fd = open(chunk_dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int r = fd < 0 ? -1 : syncfs(fd);
  int err = errno;
  if (fd >= 0) close(fd);
  if (r == 0) return Status::OK();
  dirty_.SetOverflow();  // still unknown: the next sync tries again
  return Status::Error(err, "syncfs " + chunk_dir_ + ": " + strerror(err));
}

}  // namespace gkfs
