// Handler of Sync (fsync, fdatasync, sync_file_range, syncfs of a client).
#include "daemon/handlers.h"

namespace gkfs {

// Syncs wait for the disk: always on an I/O thread (when the daemon has them), so the network
// thread keeps serving while a file's gigabytes go out.
void HandleSync(Providers& p, const Request& req, Response* out) {
  rpc::SyncRequest in;
  if (!DecodeRequest(req, &in, out)) return;
  SyncBackend::Work work;
  work.file_id = in.file_id;
  work.path = in.path;
  work.chunks = (in.flags & rpc::kSyncChunks) != 0;
  work.datasync = (in.flags & rpc::kSyncDataOnly) != 0;
  work.metadata = (in.flags & rpc::kSyncMetadata) != 0;
  work.everything = (in.flags & rpc::kSyncEverything) != 0;
  work.budget = std::chrono::milliseconds(in.budget_ms);
  work.epoch = in.epoch;
  if (work.chunks && work.file_id == 0) {
    return Fail(Status::Error(EINVAL, "chunk sync without a file id"), out);
  }
  auto sync = [provider = p.sync, work](Response* r) {
    rpc::SyncReply reply;
    bool done = true;
    Status s = provider->Sync(work, &reply.epoch, &done);
    if (!s.ok()) return Fail(s, r);
    reply.done = done;
    r->body = rpc::EncodeBody(reply);
  };
  if (!Offload(p, req, kOffloadBytes, out, sync)) sync(out);
}

}  // namespace gkfs
