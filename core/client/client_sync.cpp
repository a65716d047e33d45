// Durability operations of ClientImpl: fsync, fdatasync, sync_file_range, syncfs.
#include <algorithm>

#include "client/client_impl.h"

namespace gkfs {

using transport::Call;

namespace {

Call SyncCall(uint32_t daemon, const rpc::SyncRequest& request) {
  Call call;
  call.daemon = daemon;
  call.verb = rpc::Verb::kSync;
  call.body = rpc::EncodeBody(request);
  return call;
}

}  // namespace

uint32_t ClientImpl::SyncMetadataOwner(const std::string& path, uint64_t file_id) {
  // A file's size, times and owners are its inode's, at its home (forwarding mode: the I/O
  // node); fsync(2) of a file does not cover its directory entry, as on Linux.
  return file_id != 0 ? InodeOwner(file_id) : MetadataOwner(path);
}

// Every daemon gets the chunk part: any of them may hold chunks of the file written by any
// client, and knowing which would cost a size lookup first. A daemon with nothing dirty of
// the file answers from a map lookup.
Status ClientImpl::Sync(const std::string& path, uint64_t file_id, SyncLevel level) {
  const bool metadata = level != SyncLevel::kDataOnly;
  if (file_id == 0 && !metadata) return Status::OK();  // a directory holds no data
  const uint32_t owner = SyncMetadataOwner(path, file_id);
  std::vector<rpc::SyncRequest> requests(placement_.num_daemons());
  for (uint32_t d = 0; d < requests.size(); ++d) {
    rpc::SyncRequest& req = requests[d];
    req.file_id = file_id;
    req.path = path;
    if (file_id != 0) req.flags |= rpc::kSyncChunks | (level == SyncLevel::kFile ? 0 : rpc::kSyncDataOnly);
    if (metadata && (file_id == 0 || d == owner)) req.flags |= rpc::kSyncMetadata;
  }
  std::vector<Call> calls;
  RunSyncCalls(requests, &calls);
  for (const Call& c : calls) {
    if (c.status.ok()) continue;
    bool chunks_only = !(requests[c.daemon].flags & rpc::kSyncMetadata);
    if (!chunks_only || !HoldsNoChunks(c.daemon, path, file_id)) return c.status;
  }
  return Status::OK();
}

Status ClientImpl::SyncFs() {
  std::vector<rpc::SyncRequest> requests(placement_.num_daemons());
  for (auto& req : requests) req.flags = rpc::kSyncEverything | rpc::kSyncMetadata;
  std::vector<Call> calls;
  return RunSyncCalls(requests, &calls);
}

Status ClientImpl::RunSyncCalls(std::vector<rpc::SyncRequest>& requests, std::vector<Call>* calls) {
  // A daemon's chunk work stops after half our idle timeout and is asked for again, so a
  // daemon busy with a large sync answers before we would take it for dead.
  const uint32_t budget = static_cast<uint32_t>(std::max(1, transports_.timeout_ms() / 2));
  calls->clear();
  std::vector<uint32_t> round;
  for (uint32_t d = 0; d < requests.size(); ++d) {
    requests[d].budget_ms = budget;
    calls->push_back(SyncCall(d, requests[d]));
    round.push_back(d);
  }
  while (!round.empty()) {
    std::vector<Call*> ptrs;
    for (uint32_t d : round) ptrs.push_back(&(*calls)[d]);
    RunCalls(ptrs);
    std::vector<uint32_t> again;
    for (uint32_t d : round) {
      Call& call = (*calls)[d];
      rpc::SyncReply reply;
      if (!call.status.ok()) continue;
      if (Status s = rpc::DecodeBody(call.reply_body, &reply, "sync reply"); !s.ok()) {
        call.status = s;
        continue;
      }
      if (reply.done) continue;
      requests[d].epoch = reply.epoch;
      requests[d].flags &= ~rpc::kSyncMetadata;  // synced in the first round
      call = SyncCall(d, requests[d]);
      again.push_back(d);
    }
    round = std::move(again);
  }
  return FirstError(*calls);
}

bool ClientImpl::HoldsNoChunks(uint32_t daemon, const std::string& path, uint64_t file_id) {
  Metadata md;
  if (!StatLocked(path, &md).ok() || md.file_id != file_id) return false;
  std::vector<uint32_t> owners = ChunkOwners(file_id, md.size);  // empty: every daemon
  return !owners.empty() && std::find(owners.begin(), owners.end(), daemon) == owners.end();
}

}  // namespace gkfs
