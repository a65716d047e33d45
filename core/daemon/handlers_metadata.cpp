// Handlers of the metadata verbs (and fs_config, health).
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/log.h"
#include "common/metadata_codec.h"
#include "daemon/handlers.h"

namespace gkfs {
namespace {

template <class T>
void Reply(const Status& s, const T& body, Response* out) {
  if (!s.ok()) return Fail(s, out);
  out->body = rpc::EncodeBody(body);
}

// Remove, RemoveInDir and Links reply through here. When the last link went (reclaim) and
// the inode held data, the chunks this daemon holds of it go before the reply, and reclaim
// says so (kReclaimedHere): the client asks only the other chunk owners, so removing a file
// whose chunks all live at its home is one round trip. The removal waits for the file's
// reads and writes (the chunk store's per-file lock), so it runs on an I/O thread.
template <class Body>
void ReplyReclaiming(Providers& p, const Request& req, const Body& r, Response* out) {
  Metadata md;
  if (r.reclaim != rpc::kReclaim || p.data == nullptr || !DecodeMetadata(r.record, &md).ok() ||
      !md.is_regular() || md.size == 0) {
    out->body = rpc::EncodeBody(r);
    return;
  }
  auto remove = [data = p.data, r, ino = md.file_id](Response* response) {
    Body reply = r;
    if (data->Remove(ino).ok()) reply.reclaim = rpc::kReclaimedHere;
    response->body = rpc::EncodeBody(reply);
  };
  if (!Offload(p, req, kOffloadBytes, out, remove)) remove(out);
}

// A release that fails midway replies what it reclaimed before the failure (their inodes
// are gone, their chunks the caller's to remove) with the error in r->status.
void ReleaseKeepingReclaimed(Providers& p, const rpc::ReleaseRequest& in, rpc::ReleaseReply* r) {
  Status s = p.metadata->Release(in, r);
  if (s.ok()) return;
  GKFS_LOG(kError, "release: " + s.message());
  r->status = s.code();
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
  r.uid = geteuid();
  r.session_lease_ms = static_cast<uint32_t>(p.metadata->session_lease_ms());
  if (p.forwarding != nullptr) r.pfs_dir = p.storage_dir;
  out->body = rpc::EncodeBody(r);
}

void HandleHealth(Providers& p, const Request& req, Response* out) {
  rpc::HealthReply r;
  r.version = GKFS_VERSION;
  r.files = p.metadata->CountRecords();
  if (p.data != nullptr) {
    r.chunk_bytes = p.data->BytesUsed();
    // Counting walks the chunk store: never here on the network thread. A stale count is
    // recounted on an I/O thread (inline only without any), for the next Health to read.
    if (p.data->NeedsRefresh()) {
      if (p.io != nullptr) {
        p.io->Submit([data = p.data] { data->RefreshBytesUsed(); });
      } else {
        p.data->RefreshBytesUsed();
      }
    }
  }
  r.orphans = p.metadata->CountOrphans();
  r.syncs = p.sync->syncs();
  struct statvfs vfs;
  if (statvfs(p.storage_dir.c_str(), &vfs) == 0) {
    r.total_bytes = static_cast<uint64_t>(vfs.f_blocks) * vfs.f_frsize;
    r.free_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  }
  out->body = rpc::EncodeBody(r);
}

void HandleMetrics(Providers& p, const Request& req, Response* out) {
  if (p.metrics == nullptr) return Fail(Status::Error(EOPNOTSUPP, "no metrics here"), out);
  SetPayload(p.metrics->Render(), out);
}

// The verbs whose provider call fills a reply: decode, call, reply.
template <class In, class Out, Status (MetadataBackend::*Op)(const In&, Out*)>
void HandleWithReply(Providers& p, const Request& req, Response* out) {
  In in;
  if (!DecodeRequest(req, &in, out)) return;
  Out r;
  Reply((p.metadata->*Op)(in, &r), r, out);
}

void HandleCreate(Providers& p, const Request& req, Response* out) {
  HandleWithReply<rpc::CreateRequest, rpc::CreateReply, &MetadataBackend::Create>(p, req, out);
}

// CreateInDir and RemoveInDir: the operation and its parent's touch, one reply.
void HandleCreateInDir(Providers& p, const Request& req, Response* out) {
  rpc::CreateRequest in;
  if (!DecodeRequest(req, &in, out)) return;
  if (in.path == "/") return Fail(Status::Error(EINVAL, "the root has no parent"), out);
  rpc::InDirReply r;
  p.metadata->CreateInDir(in, &r);
  out->body = rpc::EncodeBody(r);
}

void HandleRemoveInDir(Providers& p, const Request& req, Response* out) {
  rpc::RemoveRequest in;
  if (!DecodeRequest(req, &in, out)) return;
  if (in.path == "/") return Fail(Status::Error(EINVAL, "the root has no parent"), out);
  rpc::InDirReply r;
  ReleaseKeepingReclaimed(p, in.release, &r.released);  // first: see rpc::RemoveRequest
  if ((r.status = r.released.status) != 0) {  // nothing removed, nothing touched
    out->body = rpc::EncodeBody(r);
    return;
  }
  p.metadata->RemoveInDir(in, &r);
  ReplyReclaiming(p, req, r, out);
}

template <Status (MetadataBackend::*Op)(const rpc::Target&, uint64_t, rpc::RecordReply*)>
void HandleRecord(Providers& p, const Request& req, Response* out) {
  rpc::TargetRequest in;
  if (!DecodeRequest(req, &in, out)) return;
  rpc::RecordReply r;
  Reply((p.metadata->*Op)(in.target, in.opener, &r), r, out);
}

void HandleStat(Providers& p, const Request& req, Response* out) {
  HandleRecord<&MetadataBackend::Stat>(p, req, out);
}

void HandleStatForRead(Providers& p, const Request& req, Response* out) {
  HandleRecord<&MetadataBackend::StatForRead>(p, req, out);
}

void HandleTouchDir(Providers& p, const Request& req, Response* out) {
  HandleWithReply<rpc::TouchDirRequest, rpc::TouchDirReply, &MetadataBackend::TouchDir>(p, req, out);
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
  rpc::RemoveReply r;
  Status s = p.metadata->Remove(in, &r);
  if (!s.ok()) return Fail(s, out);
  ReplyReclaiming(p, req, r, out);
}

void HandleLinks(Providers& p, const Request& req, Response* out) {
  rpc::LinksRequest in;
  if (!DecodeRequest(req, &in, out)) return;
  if (in.delta != 1 && in.delta != -1) return Fail(Status::Error(EINVAL, "link count moves by one"), out);
  rpc::RemoveReply r;
  Status s = p.metadata->Links(in, &r);
  if (!s.ok()) return Fail(s, out);
  ReplyReclaiming(p, req, r, out);
}

void HandleGrowSize(Providers& p, const Request& req, Response* out) {
  rpc::SizeRequest in;
  if (!DecodeRequest(req, &in, out)) return;
  if (in.target.ino == 0) return Fail(Status::Error(EINVAL, "GrowSize addresses an inode"), out);
  Status s = p.metadata->GrowSize(in.target.ino, in.size, in.mtime_ns);
  if (!s.ok()) Fail(s, out);
}

void HandleReserveAppend(Providers& p, const Request& req, Response* out) {
  rpc::ReserveAppendRequest in;
  if (!DecodeRequest(req, &in, out)) return;
  rpc::OffsetReply r;
  Reply(p.metadata->ReserveAppend(in.ino, in.length, &r.offset), r, out);
}

void HandleSetSize(Providers& p, const Request& req, Response* out) {
  HandleWithReply<rpc::SizeRequest, rpc::TargetReply, &MetadataBackend::SetSize>(p, req, out);
}

void HandleSetAttr(Providers& p, const Request& req, Response* out) {
  HandleWithReply<rpc::SetAttrRequest, rpc::TargetReply, &MetadataBackend::SetAttr>(p, req, out);
}

void HandlePutEntry(Providers& p, const Request& req, Response* out) {
  HandleWithReply<rpc::PutEntryRequest, rpc::PutEntryReply, &MetadataBackend::PutEntry>(p, req, out);
}

void HandleRelease(Providers& p, const Request& req, Response* out) {
  rpc::ReleaseRequest in;
  if (!DecodeRequest(req, &in, out)) return;
  rpc::ReleaseReply r;
  ReleaseKeepingReclaimed(p, in, &r);
  out->body = rpc::EncodeBody(r);
}

void HandleFwdRename(Providers& p, const Request& req, Response* out) {
  rpc::RenameRequest in;
  if (!DecodeRequest(req, &in, out)) return;
  Status s = p.metadata->Rename(in.old_path, in.new_path);
  if (!s.ok()) Fail(s, out);
}

void HandleRenew(Providers& p, const Request& req, Response* out) {
  rpc::ReleaseRequest in;
  if (!DecodeRequest(req, &in, out)) return;
  Status s = p.metadata->Renew(in);
  if (!s.ok()) Fail(s, out);
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
