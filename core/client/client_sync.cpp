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
  const std::vector<uint32_t> daemons = routing_->Sharers();
  std::vector<rpc::SyncRequest> requests(daemons.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    rpc::SyncRequest& req = requests[i];
    req.file_id = file_id;
    req.path = path;
    if (file_id != 0) req.flags |= rpc::kSyncChunks | (level == SyncLevel::kFile ? 0 : rpc::kSyncDataOnly);
    if (metadata && (file_id == 0 || daemons[i] == owner)) req.flags |= rpc::kSyncMetadata;
  }
  std::vector<Call> calls;
  RunSyncCalls(daemons, requests, &calls);
  for (size_t i = 0; i < calls.size(); ++i) {
    if (calls[i].status.ok()) continue;
    bool chunks_only = !(requests[i].flags & rpc::kSyncMetadata);
    if (!chunks_only || !HoldsNoChunks(daemons[i], path, file_id)) return calls[i].status;
  }
  return Status::OK();
}

// Every daemon, I/O nodes too (each syncs the PFS directory's file system).
Status ClientImpl::SyncFs() {
  std::vector<uint32_t> daemons(hosts_.size());
  for (uint32_t d = 0; d < daemons.size(); ++d) daemons[d] = d;
  std::vector<rpc::SyncRequest> requests(daemons.size());
  for (auto& req : requests) req.flags = rpc::kSyncEverything | rpc::kSyncMetadata;
  std::vector<Call> calls;
  return RunSyncCalls(daemons, requests, &calls);
}

Status ClientImpl::RunSyncCalls(const std::vector<uint32_t>& daemons, std::vector<rpc::SyncRequest>& requests,
                                std::vector<Call>* calls) {
  // A daemon's chunk work stops after half our idle timeout and is asked for again, so a
  // daemon busy with a large sync answers before we would take it for dead.
  const uint32_t budget = static_cast<uint32_t>(std::max(1, transports_.timeout_ms() / 2));
  calls->clear();
  std::vector<size_t> round;
  for (size_t i = 0; i < requests.size(); ++i) {
    requests[i].budget_ms = budget;
    calls->push_back(SyncCall(daemons[i], requests[i]));
    round.push_back(i);
  }
  while (!round.empty()) {
    std::vector<Call*> ptrs;
    for (size_t i : round) ptrs.push_back(&(*calls)[i]);
    RunCalls(ptrs);
    std::vector<size_t> again;
    for (size_t i : round) {
      Call& call = (*calls)[i];
      rpc::SyncReply reply;
      if (!call.status.ok()) continue;
      if (Status s = rpc::DecodeBody(call.reply_body, &reply, "sync reply"); !s.ok()) {
        call.status = s;
        continue;
      }
      if (reply.done) continue;
      requests[i].epoch = reply.epoch;
      requests[i].flags &= ~rpc::kSyncMetadata;  // synced in the first round
      call = SyncCall(daemons[i], requests[i]);
      again.push_back(i);
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
