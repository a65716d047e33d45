// Handlers of the chunk verbs.
#include "daemon/handlers.h"

namespace gkfs {
void HandleWriteChunks(Providers& p, const Request& req, Response* out) {
  rpc::ChunksRequest in;
  if (!DecodeRequest(req, &in, out)) return;
  Status s = p.data->Write(in.file_id, in.pieces, req.payload);
  if (!s.ok()) Fail(s, out);
}

void HandleReadChunks(Providers& p, const Request& req, Response* out) {
  rpc::ChunksRequest in;
  if (!DecodeRequest(req, &in, out)) return;
  if (!req.payload.empty()) return Fail(Status::Error(EBADMSG, "read request carries a payload"), out);
  rpc::ReadChunksReply r;
  Status s = p.data->Read(in.file_id, in.pieces, &r.lengths, &out->payload, &out->payload_size);
  if (!s.ok()) return Fail(s, out);
  out->body = rpc::EncodeBody(r);
}

void HandleTruncateChunks(Providers& p, const Request& req, Response* out) {
  rpc::FileSizeRequest in;
  Status s = rpc::DecodeBody(req.body, &in, "TruncateChunks");
  if (s.ok()) s = p.data->Truncate(in.file_id, in.size);
  if (!s.ok()) Fail(s, out);
}

void HandleRemoveChunks(Providers& p, const Request& req, Response* out) {
  rpc::FileSizeRequest in;
  Status s = rpc::DecodeBody(req.body, &in, "RemoveChunks");
  if (s.ok()) s = p.data->Remove(in.file_id);
  if (!s.ok()) Fail(s, out);
}

void HandlePing(Providers& p, const Request& req, Response* out) {
  rpc::PingRequest in;
  Status s = rpc::DecodeBody(req.body, &in, "Ping");
  if (!s.ok()) return Fail(s, out);
  out->payload = Buffer(in.reply_bytes);
  out->payload_size = in.reply_bytes;
}

// The forwarding verbs reach this table only on a daemon in the normal mode.
#define GKFS_FORWARDING_ONLY(name)                                                      \
  void Handle##name(Providers& p, const Request& req, Response* out) {                  \
    Fail(Status::Error(EOPNOTSUPP, #name " is served only in forwarding mode"), out);  \
  }
GKFS_FORWARDING_ONLY(FwdWrite)
GKFS_FORWARDING_ONLY(FwdRead)
GKFS_FORWARDING_ONLY(FwdRename)
GKFS_FORWARDING_ONLY(FwdStats)
#undef GKFS_FORWARDING_ONLY

}  // namespace gkfs
