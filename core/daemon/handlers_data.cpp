// Handlers of the data verbs: chunks by file id (normal mode), whole files by path
// (forwarding mode, the FwdWrite/FwdRead verbs through the forwarding provider's queue).
#include "daemon/forwarding/forwarding.h"
#include "daemon/handlers.h"

namespace gkfs {
namespace {

// The chunk verbs need the chunk store, which a daemon in forwarding mode has not.
bool HasChunks(Providers& p, const Request& req, Response* out) {
  if (p.data != nullptr) return true;
  Fail(Status::Error(EOPNOTSUPP, std::string(rpc::VerbName(req.verb)) + " is not served by a daemon in "
                                     "forwarding mode (the PFS holds whole files)"), out);
  return false;
}

bool HasWholeFiles(Providers& p, const Request& req, Response* out) {
  if (p.forwarding != nullptr) return true;
  Fail(Status::Error(EOPNOTSUPP, std::string(rpc::VerbName(req.verb)) + " is served only in forwarding mode"), out);
  return false;
}

}  // namespace

void HandleWriteChunks(Providers& p, const Request& req, Response* out) {
  if (!HasChunks(p, req, out)) return;
  rpc::ChunksRequest in;
  if (!DecodeRequest(req, &in, out)) return;
  // A size update the write carries is applied once its bytes are written: the size never
  // covers bytes that were not (rpc::ChunksRequest::grow_size).
  auto write = [data = p.data, metadata = p.metadata, in, payload = req.payload](Response* r) {
    Status s = data->Write(in.file_id, in.pieces, payload);
    if (s.ok() && in.grow_size != 0) s = metadata->GrowSize(in.file_id, in.grow_size, in.mtime_ns);
    if (!s.ok()) Fail(s, r);
  };
  if (!Offload(p, req, req.payload.size(), out, write)) write(out);
}

namespace {
// The size lookup a read needs, when asked, goes first: a size read after the bytes could
// cover bytes a concurrent write added meanwhile, which this read did not see.
void ReadChunks(MetadataBackend& metadata, DataProvider& data, const rpc::ChunksRequest& in, Response* r) {
  rpc::ReadChunksReply reply;
  if (in.with_record) {
    rpc::RecordReply record;
    Status s = metadata.StatForRead(rpc::Target{"", in.file_id}, 0, &record);
    if (s.ok() && record.remote_ino != 0) s = Status::Error(EREMOTE, "not the inode's home");
    if (!s.ok()) return Fail(s, r);
    reply.record = std::move(record.record);
  }
  Status s = data.Read(in.file_id, in.pieces, &reply.lengths, &r->payload, &r->payload_size);
  if (!s.ok()) return Fail(s, r);
  r->body = rpc::EncodeBody(reply);
}
}  // namespace

void HandleReadChunks(Providers& p, const Request& req, Response* out) {
  if (!HasChunks(p, req, out)) return;
  rpc::ChunksRequest in;
  if (!DecodeRequest(req, &in, out)) return;
  if (!req.payload.empty()) return Fail(Status::Error(EBADMSG, "read request carries a payload"), out);
  // Small reads run here, on the request as decoded (no copy for the I/O threads).
  const uint64_t bytes = in.TotalBytes();
  if (bytes < kOffloadBytes) return ReadChunks(*p.metadata, *p.data, in, out);
  auto read = [metadata = p.metadata, data = p.data, in = std::move(in)](Response* r) {
    ReadChunks(*metadata, *data, in, r);
  };
  if (!Offload(p, req, bytes, out, std::move(read))) read(out);
}

// Truncation and removal wait for the file's reads and writes on the I/O threads (the
// chunk store's per-file lock), so they run there too: the network thread never waits.
void HandleTruncateChunks(Providers& p, const Request& req, Response* out) {
  if (!HasChunks(p, req, out)) return;
  rpc::FileSizeRequest in;
  if (!DecodeRequest(req, &in, out)) return;
  auto truncate = [data = p.data, in](Response* r) {
    Status s = data->Truncate(in.file_id, in.size);
    if (!s.ok()) Fail(s, r);
  };
  if (!Offload(p, req, kOffloadBytes, out, truncate)) truncate(out);
}

void HandleRemoveChunks(Providers& p, const Request& req, Response* out) {
  if (!HasChunks(p, req, out)) return;
  rpc::FileSizeRequest in;
  if (!DecodeRequest(req, &in, out)) return;
  auto remove = [data = p.data, in](Response* r) {
    Status s = data->Remove(in.file_id);
    if (!s.ok()) Fail(s, r);
  };
  if (!Offload(p, req, kOffloadBytes, out, remove)) remove(out);
}

void HandlePing(Providers& p, const Request& req, Response* out) {
  rpc::PingRequest in;
  Status s = rpc::DecodeBody(req.body, &in, "Ping");
  if (!s.ok()) return Fail(s, out);
  out->payload = Buffer(in.reply_bytes);
  out->payload_size = in.reply_bytes;
}

void HandleFwdWrite(Providers& p, const Request& req, Response* out) {
  rpc::FwdWriteRequest in;
  if (!HasWholeFiles(p, req, out) || !DecodeRequest(req, &in, out)) return;
  p.forwarding->Write(in, req, out);
}

void HandleFwdRead(Providers& p, const Request& req, Response* out) {
  rpc::FwdReadRequest in;
  if (!HasWholeFiles(p, req, out) || !DecodeRequest(req, &in, out)) return;
  if (!req.payload.empty()) return Fail(Status::Error(EBADMSG, "read request carries a payload"), out);
  p.forwarding->Read(in, req, out);
}

void HandleFwdStats(Providers& p, const Request& req, Response* out) {
  if (!HasWholeFiles(p, req, out)) return;
  rpc::FwdStatsReply r;
  std::vector<rpc::AppStats> apps;
  p.forwarding->Statistics(&r, &apps);
  out->body = rpc::EncodeBody(r);
  SetPayload(rpc::EncodeAppStats(apps), out);
}

}  // namespace gkfs
