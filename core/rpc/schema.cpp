#include "rpc/schema.h"

namespace gkfs::rpc {

const char* VerbName(Verb verb) {
  static const char* const kNames[] = {
#define GKFS_VERB_NAME(name) #name,
      GKFS_RPC_VERBS(GKFS_VERB_NAME)
#undef GKFS_VERB_NAME
  };
  auto i = static_cast<size_t>(verb);
  return i < static_cast<size_t>(Verb::kCount) ? kNames[i] : "unknown";
}

void FsConfigReply::Encode(Encoder& e) const {
  e.U64(chunk_size);
  e.Str(mountdir);
  e.Str(rootdir);
  e.U32(protocol_version);
  e.U8(auto_sm);
  e.Str(host_id);
  e.Str(worker_address);
  e.U32(uid);
  e.U32(session_lease_ms);
  e.Str(pfs_dir);
}
void FsConfigReply::Decode(Decoder& d) {
  chunk_size = d.U64();
  mountdir = d.Str(PATH_MAX);
  rootdir = d.Str(PATH_MAX);
  protocol_version = d.U32();
  auto_sm = d.U8();
  host_id = d.Str(512);
  worker_address = d.Str(6000);
  uid = d.U32();
  session_lease_ms = d.U32();
  pfs_dir = d.Str(PATH_MAX);
}

void HealthReply::Encode(Encoder& e) const {
  e.Str(version);
  e.U64(files);
  e.U64(chunk_bytes);
  e.U64(total_bytes);
  e.U64(free_bytes);
  e.U64(orphans);
  e.U64(syncs);
}
void HealthReply::Decode(Decoder& d) {
  version = d.Str(256);
  files = d.U64();
  chunk_bytes = d.U64();
  total_bytes = d.U64();
  free_bytes = d.U64();
  orphans = d.U64();
  syncs = d.U64();
}

void PingRequest::Encode(Encoder& e) const { e.U32(reply_bytes); }
void PingRequest::Decode(Decoder& d) {
  reply_bytes = d.U32();
  if (reply_bytes > kMaxPingReply) d.MarkBad();
}

void Target::Encode(Encoder& e) const {
  e.Str(path);
  e.U64(ino);
}
void Target::Decode(Decoder& d) {
  path = d.Str(PATH_MAX);
  ino = d.U64();
}

void CreateRequest::Encode(Encoder& e) const {
  e.Str(path);
  e.U32(mode);
  e.U32(uid);
  e.U32(gid);
  e.U8(exclusive);
  e.Str(link_target);
  e.U64(rdev);
  e.U32(home);
  e.U64(ino);
  e.U64(opener);
}
void CreateRequest::Decode(Decoder& d) {
  path = d.Str(PATH_MAX);
  mode = d.U32();
  uid = d.U32();
  gid = d.U32();
  exclusive = d.U8();
  link_target = d.Str(PATH_MAX);
  rdev = d.U64();
  home = d.U32();
  ino = d.U64();
  opener = d.U64();
}

void TargetRequest::Encode(Encoder& e) const {
  target.Encode(e);
  e.U64(opener);
}
void TargetRequest::Decode(Decoder& d) {
  target.Decode(d);
  opener = d.U64();
}

void ReleaseRequest::Encode(Encoder& e) const {
  e.U64(opener);
  e.U32(static_cast<uint32_t>(inos.size()));
  for (uint64_t ino : inos) e.U64(ino);
}
void ReleaseRequest::Decode(Decoder& d) {
  opener = d.U64();
  inos.resize(d.Count(8, kMaxRelease));
  for (auto& ino : inos) ino = d.U64();
}

void ReleaseReply::Encode(Encoder& e) const {
  e.U32(static_cast<uint32_t>(reclaimed.size()));
  for (const auto& [ino, size] : reclaimed) {
    e.U64(ino);
    e.U64(size);
  }
  e.I32(status);
}
void ReleaseReply::Decode(Decoder& d) {
  reclaimed.resize(d.Count(16, kMaxRelease));
  for (auto& [ino, size] : reclaimed) {
    ino = d.U64();
    size = d.U64();
  }
  status = d.I32();
}

void RecordReply::Encode(Encoder& e) const {
  e.U64(remote_ino);
  e.Str(record);
}
void RecordReply::Decode(Decoder& d) {
  remote_ino = d.U64();
  record = d.Str(2 * PATH_MAX);
}

void TargetReply::Encode(Encoder& e) const { e.U64(remote_ino); }
void TargetReply::Decode(Decoder& d) { remote_ino = d.U64(); }

void CreateReply::Encode(Encoder& e) const {
  e.U64(remote_ino);
  e.Str(record);
  e.U8(created);
}
void CreateReply::Decode(Decoder& d) {
  remote_ino = d.U64();
  record = d.Str(2 * PATH_MAX);
  created = d.U8();
}

void InDirReply::Encode(Encoder& e) const {
  e.I32(dir_status);
  e.Str(dir_record);
  e.U64(dir_remote);
  e.I64(touched_ns);
  e.I32(status);
  e.Str(record);
  e.U64(remote_ino);
  e.U8(done);
  e.U8(reclaim);
  released.Encode(e);
}
void InDirReply::Decode(Decoder& d) {
  dir_status = d.I32();
  dir_record = d.Str(2 * PATH_MAX);
  dir_remote = d.U64();
  touched_ns = d.I64();
  status = d.I32();
  record = d.Str(2 * PATH_MAX);
  remote_ino = d.U64();
  done = d.U8();
  reclaim = d.U8();
  released.Decode(d);
}

void RemoveRequest::Encode(Encoder& e) const {
  e.Str(path);
  e.U8(kind);
  release.Encode(e);
}
void RemoveRequest::Decode(Decoder& d) {
  path = d.Str(PATH_MAX);
  kind = d.U8();
  release.Decode(d);
}

void RemoveReply::Encode(Encoder& e) const {
  e.U64(remote_ino);
  e.Str(record);
  e.U8(reclaim);
}
void RemoveReply::Decode(Decoder& d) {
  remote_ino = d.U64();
  record = d.Str(2 * PATH_MAX);
  reclaim = d.U8();
}

void LinksRequest::Encode(Encoder& e) const {
  e.U64(ino);
  e.I32(delta);
}
void LinksRequest::Decode(Decoder& d) {
  ino = d.U64();
  delta = d.I32();
}

void SizeRequest::Encode(Encoder& e) const {
  target.Encode(e);
  e.U64(size);
  e.I64(mtime_ns);
}
void SizeRequest::Decode(Decoder& d) {
  target.Decode(d);
  size = d.U64();
  mtime_ns = d.I64();
}

void ReserveAppendRequest::Encode(Encoder& e) const {
  e.U64(ino);
  e.U64(length);
  e.I64(mtime_ns);
}
void ReserveAppendRequest::Decode(Decoder& d) {
  ino = d.U64();
  length = d.U64();
  mtime_ns = d.I64();
}

void OffsetReply::Encode(Encoder& e) const { e.U64(offset); }
void OffsetReply::Decode(Decoder& d) { offset = d.U64(); }

void SetAttrRequest::Encode(Encoder& e) const {
  target.Encode(e);
  e.I64(mode);
  e.I64(atime_ns);
  e.I64(mtime_ns);
  e.I64(uid);
  e.I64(gid);
}
void SetAttrRequest::Decode(Decoder& d) {
  target.Decode(d);
  mode = d.I64();
  atime_ns = d.I64();
  mtime_ns = d.I64();
  uid = d.I64();
  gid = d.I64();
}

void TouchDirRequest::Encode(Encoder& e) const {
  target.Encode(e);
  e.I32(nlink_delta);
}
void TouchDirRequest::Decode(Decoder& d) {
  target.Decode(d);
  nlink_delta = d.I32();
}

void TouchDirReply::Encode(Encoder& e) const {
  e.U64(remote_ino);
  e.Str(record);
  e.I64(touched_ns);
}
void TouchDirReply::Decode(Decoder& d) {
  remote_ino = d.U64();
  record = d.Str(2 * PATH_MAX);
  touched_ns = d.I64();
}

void UntouchDirRequest::Encode(Encoder& e) const {
  target.Encode(e);
  e.I64(touched_ns);
  e.I64(mtime_ns);
  e.I64(ctime_ns);
  e.I32(nlink_delta);
}
void UntouchDirRequest::Decode(Decoder& d) {
  target.Decode(d);
  touched_ns = d.I64();
  mtime_ns = d.I64();
  ctime_ns = d.I64();
  nlink_delta = d.I32();
}

void PutEntryRequest::Encode(Encoder& e) const {
  e.Str(path);
  e.U64(ino);
  e.U32(mode);
}
void PutEntryRequest::Decode(Decoder& d) {
  path = d.Str(PATH_MAX);
  ino = d.U64();
  mode = d.U32();
}

void PutEntryReply::Encode(Encoder& e) const {
  e.U8(replaced);
  e.U64(old_ino);
  e.U32(old_mode);
}
void PutEntryReply::Decode(Decoder& d) {
  replaced = d.U8();
  old_ino = d.U64();
  old_mode = d.U32();
}

void ReadDirRequest::Encode(Encoder& e) const {
  e.Str(path);
  e.Str(start_after);
  e.U32(max_entries);
}
void ReadDirRequest::Decode(Decoder& d) {
  path = d.Str(PATH_MAX);
  start_after = d.Str(NAME_MAX);
  max_entries = d.U32();
  if (max_entries == 0 || max_entries > kMaxReadDirPage) d.MarkBad();
}

void ReadDirReply::Encode(Encoder& e) const { e.U8(end); }
void ReadDirReply::Decode(Decoder& d) { end = d.U8(); }

std::string EncodeDirEntries(const std::vector<DirEntryWire>& entries) {
  Encoder e;
  e.U32(static_cast<uint32_t>(entries.size()));
  for (const auto& entry : entries) {
    e.Str(entry.name);
    e.U8(entry.type);
    e.U64(entry.ino);
  }
  return e.Take();
}

bool DecodeDirEntries(std::string_view payload, std::vector<DirEntryWire>* entries) {
  Decoder d(payload);
  uint32_t n = d.Count(13, kMaxReadDirPage);
  entries->clear();
  entries->reserve(n);
  for (uint32_t i = 0; i < n && !d.bad(); ++i) {
    DirEntryWire entry;
    entry.name = d.Str(NAME_MAX);
    entry.type = d.U8();
    entry.ino = d.U64();
    entries->push_back(std::move(entry));
  }
  return d.Finish("directory entries").ok();
}

uint64_t ChunksRequest::TotalBytes() const {
  uint64_t total = 0;
  for (const auto& p : pieces) total += p.length;
  return total;
}
void ChunksRequest::Encode(Encoder& e) const {
  e.U64(file_id);
  e.U32(static_cast<uint32_t>(pieces.size()));
  for (const auto& p : pieces) {
    e.U64(p.chunk_index);
    e.U32(p.offset);
    e.U32(p.length);
  }
  e.U64(grow_size);
  e.I64(mtime_ns);
  e.U8(with_record);
}
void ChunksRequest::Decode(Decoder& d) {
  file_id = d.U64();
  uint32_t n = d.Count(16, kMaxPiecesPerRpc);
  pieces.resize(n);
  for (auto& p : pieces) {
    p.chunk_index = d.U64();
    p.offset = d.U32();
    p.length = d.U32();
  }
  grow_size = d.U64();
  mtime_ns = d.I64();
  with_record = d.U8();
}

void ReadChunksReply::Encode(Encoder& e) const {
  e.U32(static_cast<uint32_t>(lengths.size()));
  for (uint32_t n : lengths) e.U32(n);
  e.Str(record);
}
void ReadChunksReply::Decode(Decoder& d) {
  uint32_t n = d.Count(4, kMaxPiecesPerRpc);
  lengths.resize(n);
  for (auto& len : lengths) len = d.U32();
  record = d.Str();
}

void FileSizeRequest::Encode(Encoder& e) const {
  e.U64(file_id);
  e.U64(size);
}
void FileSizeRequest::Decode(Decoder& d) {
  file_id = d.U64();
  size = d.U64();
}

void FwdWriteRequest::Encode(Encoder& e) const {
  e.Str(path);
  e.U64(offset);
  e.U8(append);
}
void FwdWriteRequest::Decode(Decoder& d) {
  path = d.Str(PATH_MAX);
  offset = d.U64();
  append = d.U8();
}

void FwdReadRequest::Encode(Encoder& e) const {
  e.Str(path);
  e.U64(offset);
  e.U64(length);
}
void FwdReadRequest::Decode(Decoder& d) {
  path = d.Str(PATH_MAX);
  offset = d.U64();
  length = d.U64();
  if (length > kMaxFwdRead) d.MarkBad();
}

void RenameRequest::Encode(Encoder& e) const {
  e.Str(old_path);
  e.Str(new_path);
}
void RenameRequest::Decode(Decoder& d) {
  old_path = d.Str(PATH_MAX);
  new_path = d.Str(PATH_MAX);
}

void FwdStatsReply::Encode(Encoder& e) const {
  e.U64(pending);
  e.U64(in_service);
  e.U64(scheduler_errors);
}
void FwdStatsReply::Decode(Decoder& d) {
  pending = d.U64();
  in_service = d.U64();
  scheduler_errors = d.U64();
}

void SyncRequest::Encode(Encoder& e) const {
  e.U64(file_id);
  e.Str(path);
  e.U8(flags);
  e.U32(budget_ms);
  e.U64(epoch);
}
void SyncRequest::Decode(Decoder& d) {
  file_id = d.U64();
  path = d.Str(PATH_MAX);
  flags = d.U8();
  budget_ms = d.U32();
  epoch = d.U64();
  if (flags & ~kSyncFlags) d.MarkBad();
}

void SyncReply::Encode(Encoder& e) const {
  e.U64(epoch);
  e.U8(done);
}
void SyncReply::Decode(Decoder& d) {
  epoch = d.U64();
  done = d.U8();
}

std::string EncodeAppStats(const std::vector<AppStats>& apps) {
  Encoder e;
  e.U32(static_cast<uint32_t>(apps.size()));
  for (const auto& a : apps) {
    e.U32(a.app_id);
    for (uint64_t v : {a.requests, a.bytes, a.reads, a.writes, a.units, a.queue_wait_ns, a.service_ns}) e.U64(v);
  }
  return e.Take();
}

bool DecodeAppStats(std::string_view payload, std::vector<AppStats>* apps) {
  Decoder d(payload);
  uint32_t n = d.Count(60, 1u << 20);
  apps->assign(n, AppStats());
  for (auto& a : *apps) {
    a.app_id = d.U32();
    for (uint64_t* v : {&a.requests, &a.bytes, &a.reads, &a.writes, &a.units, &a.queue_wait_ns, &a.service_ns}) {
      *v = d.U64();
    }
  }
  return d.Finish("app stats").ok();
}

}  // namespace gkfs::rpc
