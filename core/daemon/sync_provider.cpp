#include "daemon/sync_provider.h"

namespace gkfs {

Status SyncProvider::Sync(const Work& work, uint64_t* epoch, bool* done) {
  syncs_.fetch_add(1, std::memory_order_relaxed);
  *epoch = work.epoch;
  *done = true;
  if (mode_ == SyncMode::kNone) return Status::OK();
  if (*epoch == 0) *epoch = data_.NewSyncEpoch();
  const auto deadline = work.budget.count() > 0 ? DataProvider::Clock::now() + work.budget
                                                : DataProvider::Clock::time_point::max();
  Status s;
  if (work.everything) {
    s = data_.SyncAll();
  } else if (work.chunks) {
    s = data_.SyncFile(work.file_id, work.datasync, *epoch, deadline, done);
  }
  // Also when the chunk work ran out of time: the client asks for the log only once.
  if (s.ok() && work.metadata) s = metadata_.Sync();
  return s;
}

}  // namespace gkfs
