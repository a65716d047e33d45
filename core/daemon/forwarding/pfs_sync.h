// PfsSync: the SyncBackend over a PfsStore, shared by the I/O node (provider.cpp) and the
// direct route of a client (direct_provider.cpp). Thread-safe as the store is.
#pragma once

#include <atomic>

#include "daemon/forwarding/pfs_store.h"
#include "daemon/handlers.h"

namespace gkfs {

// The PFS file itself (its writes completed before their replies), or the whole PFS
// directory's file system. On an I/O node it runs on the network thread, like the other
// operations that are not reads or writes: a slow PFS fsync delays the node's other requests.
class PfsSync : public SyncBackend {
 public:
  PfsSync(SyncMode mode, PfsStore* store) : mode_(mode), store_(*store) {}
  Status Sync(const Work& work, uint64_t* epoch, bool* done) override {
    syncs_.fetch_add(1, std::memory_order_relaxed);
    *epoch = work.epoch;
    *done = true;
    if (mode_ != SyncMode::kFull) return Status::OK();
    if (work.everything) return store_.SyncAll();
    if (work.chunks || work.metadata) return store_.Sync(work.path, work.datasync);
    return Status::OK();
  }
  uint64_t syncs() const override { return syncs_.load(std::memory_order_relaxed); }

 private:
  const SyncMode mode_;
  PfsStore& store_;
  std::atomic<uint64_t> syncs_{0};
};

// An O_APPEND FwdWrite answered at once: the kernel orders appends, no scheduler needed.
inline void PfsAppend(PfsStore* store, const rpc::FwdWriteRequest& in, const Request& req, Response* out) {
  rpc::OffsetReply r;
  Status s = store->Append(in.path, req.payload.data(), req.payload.size(), &r.offset);
  if (!s.ok()) return Fail(s, out);
  out->body = rpc::EncodeBody(r);
}

}  // namespace gkfs
