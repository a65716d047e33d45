// Handlers of the metadata verbs (and fs_config, health).
#include <sys/statvfs.h>

#include "common/metadata_codec.h"
#include "daemon/handlers.h"

namespace gkfs {
namespace {

template <class T>
void Reply(const Status& s, const T& body, Response* out) {
  if (!s.ok()) return Fail(s, out);
  out->body = rpc::EncodeBody(body);
}

void ReplyRecord(const Status& s, const Metadata& md, Response* out) {
  rpc::RecordReply r;
  if (s.ok()) r.record = EncodeMetadata(md);
  Reply(s, r, out);
}

}  // namespace

void HandleFsConfig(Providers& p, const Request& req, Response* out) {
  rpc::FsConfigReply r;
  r.chunk_size = p.chunk_size;
  r.mountdir = p.mountdir;
  r.rootdir = p.rootdir;
  r.protocol_version = rpc::kProtocolVersion;
  r.auto_sm = p.auto_sm;
  r.host_id = p.host_id;
  if (p.auto_sm) r.worker_address = p.worker_address;
  out->body = rpc::EncodeBody(r);
}

void HandleHealth(Providers& p, const Request& req, Response* out) {
  rpc::HealthReply r;
  r.version = GKFS_VERSION;
  r.files = p.metadata->CountRecords();
  r.chunk_bytes = p.data->BytesUsed();
  r.syncs = p.sync->syncs();
  struct statvfs vfs;
  if (statvfs(p.rootdir.c_str(), &vfs) == 0) {
    r.total_bytes = static_cast<uint64_t>(vfs.f_blocks) * vfs.f_frsize;
    r.free_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  }
  out->body = rpc::EncodeBody(r);
}

void HandleCreate(Providers& p, const Request& req, Response* out) {
  rpc::CreateRequest in;
  if (!DecodeRequest(req, &in, out)) return;
  Metadata md;
  bool created = false;
  Status s = p.metadata->Create(in, &md, &created);
  rpc::CreateReply r;
  if (s.ok()) r.record = EncodeMetadata(md);
  r.created = created;
  Reply(s, r, out);
}

// CreateInDir and RemoveInDir: the operation and its parent's touch, one reply.
template <class In, void (MetadataProvider::*Op)(const In&, rpc::InDirReply*)>
void HandleInDir(Providers& p, const Request& req, Response* out) {
  In in;
  if (!DecodeRequest(req, &in, out)) return;
  if (in.path == "/") return Fail(Status::Error(EINVAL, "the root has no parent"), out);
  rpc::InDirReply r;
  (p.metadata->*Op)(in, &r);
  out->body = rpc::EncodeBody(r);
}

void HandleCreateInDir(Providers& p, const Request& req, Response* out) {
  HandleInDir<rpc::CreateRequest, &MetadataProvider::CreateInDir>(p, req, out);
}

void HandleRemoveInDir(Providers& p, const Request& req, Response* out) {
  HandleInDir<rpc::RemoveRequest, &MetadataProvider::RemoveInDir>(p, req, out);
}

void HandleStat(Providers& p, const Request& req, Response* out) {
  rpc::PathRequest in;
  if (!DecodeRequest(req, &in, out)) return;
  Metadata md;
  ReplyRecord(p.metadata->Stat(in.path, &md), md, out);
}

void HandleStatForRead(Providers& p, const Request& req, Response* out) {
  rpc::PathRequest in;
  if (!DecodeRequest(req, &in, out)) return;
  Metadata md;
  ReplyRecord(p.metadata->StatForRead(in.path, &md), md, out);
}

void HandleTouchDir(Providers& p, const Request& req, Response* out) {
  rpc::PathRequest in;
  if (!DecodeRequest(req, &in, out)) return;
  Metadata before;
  rpc::TouchDirReply r;
  Status s = p.metadata->TouchDir(in.path, &before, &r.touched_ns);
  if (s.ok()) r.record = EncodeMetadata(before);
  Reply(s, r, out);
}

void HandleUntouchDir(Providers& p, const Request& req, Response* out) {
  rpc::UntouchDirRequest in;
  if (!DecodeRequest(req, &in, out)) return;
  Status s = p.metadata->UntouchDir(in);
  if (!s.ok()) Fail(s, out);
}

void HandleRemove(Providers& p, const Request& req, Response* out) {
  rpc::RemoveRequest in;
  if (!DecodeRequest(req, &in, out)) return;
  Metadata md;
  ReplyRecord(p.metadata->Remove(in.path, in.kind, &md), md, out);
}

void HandleGrowSize(Providers& p, const Request& req, Response* out) {
  rpc::SizeRequest in;
  if (!DecodeRequest(req, &in, out)) return;
  Status s = p.metadata->GrowSize(in.path, in.size, in.mtime_ns);
  if (!s.ok()) Fail(s, out);
}

void HandleReserveAppend(Providers& p, const Request& req, Response* out) {
  rpc::ReserveAppendRequest in;
  if (!DecodeRequest(req, &in, out)) return;
  rpc::OffsetReply r;
  Reply(p.metadata->ReserveAppend(in.path, in.length, in.mtime_ns, &r.offset), r, out);
}

void HandleSetSize(Providers& p, const Request& req, Response* out) {
  rpc::SizeRequest in;
  if (!DecodeRequest(req, &in, out)) return;
  Status s = p.metadata->SetSize(in.path, in.size, in.mtime_ns);
  if (!s.ok()) Fail(s, out);
}

void HandleSetAttr(Providers& p, const Request& req, Response* out) {
  rpc::SetAttrRequest in;
  if (!DecodeRequest(req, &in, out)) return;
  Status s = p.metadata->SetAttr(in);
  if (!s.ok()) Fail(s, out);
}

void HandlePutRecord(Providers& p, const Request& req, Response* out) {
  rpc::PutRecordRequest in;
  if (!DecodeRequest(req, &in, out)) return;
  rpc::PutRecordReply r;
  bool replaced = false;
  Status s = p.metadata->PutRecord(in.path, in.record, &replaced, &r.old_record);
  r.replaced = replaced;
  Reply(s, r, out);
}

void HandleReadDir(Providers& p, const Request& req, Response* out) {
  rpc::ReadDirRequest in;
  if (!DecodeRequest(req, &in, out)) return;
  std::vector<rpc::DirEntryWire> entries;
  bool end = true;
  Status s = p.metadata->ReadDir(in.path, in.start_after, in.max_entries, &entries, &end);
  if (!s.ok()) return Fail(s, out);
  rpc::ReadDirReply r;
  r.end = end;
  out->body = rpc::EncodeBody(r);
  SetPayload(rpc::EncodeDirEntries(entries), out);
}

}  // namespace gkfs
