#include "client/forwarding_client.h"

#include <sys/stat.h>

#include <algorithm>

#include "common/metadata_codec.h"

namespace gkfs {

using transport::Call;

ForwardingClient::ForwardingClient(std::vector<HostEntry> hosts,
                                   std::unique_ptr<transport::ClientTransport> transport, ForwardingMap map)
    : ClientImpl(std::move(hosts), std::move(transport)), map_(std::move(map)) {}

Status ForwardingClient::IoNode(uint32_t* index) {
  std::lock_guard<std::mutex> l(map_mu_);
  return map_.IoNode(index);
}

Status ForwardingClient::CurrentIoNode(uint32_t* index) { return IoNode(index); }

uint32_t ForwardingClient::MetadataOwner(const std::string& path) {
  uint32_t index = 0;
  IoNode(&index);  // cannot fail once Connect read a valid map: the last good one stays
  return index;
}

Status ForwardingClient::CallIoNode(rpc::Verb verb, std::string body, Call* call) {
  Status s = IoNode(&call->daemon);
  if (!s.ok()) return s;
  call->verb = verb;
  call->body = std::move(body);
  return CallOne(call);
}

Status ForwardingClient::CreateCall(const rpc::CreateRequest& req, Metadata* md, bool* created) {
  Call call;
  Status s = CallIoNode(rpc::Verb::kCreate, rpc::EncodeBody(req), &call);
  return s.ok() ? DecodeCreate(call, md, created) : s;
}

// The I/O node (root on the PFS) creates and removes whatever it is asked to: the client
// checks the parent's permissions first, as ClientImpl does.
Status ForwardingClient::Create(const std::string& path, uint32_t mode, bool exclusive, Metadata* md,
                                bool* created) {
  std::lock_guard<std::mutex> l(mu_);
  Status s = CheckEntryChangeLocked(path, true);
  return s.ok() ? CreateCall(CreateBody(path, S_IFREG | (mode & 07777), exclusive), md, created) : s;
}

Status ForwardingClient::Mkdir(const std::string& path, uint32_t mode) {
  std::lock_guard<std::mutex> l(mu_);
  Metadata md;
  Status s = CheckEntryChangeLocked(path, true);
  return s.ok() ? CreateCall(CreateBody(path, S_IFDIR | (mode & 07777), true), &md, nullptr) : s;
}

Status ForwardingClient::RemoveKind(const std::string& path, uint8_t kind) {
  std::lock_guard<std::mutex> l(mu_);
  Status s = CheckEntryChangeLocked(path, false);
  if (!s.ok()) return s;
  rpc::RemoveRequest req;
  req.path = path;
  req.kind = kind;
  Call call;
  return CallIoNode(rpc::Verb::kRemove, rpc::EncodeBody(req), &call);
}

Status ForwardingClient::Remove(const std::string& path) { return RemoveKind(path, 1); }

Status ForwardingClient::Rmdir(const std::string& path) { return RemoveKind(path, 2); }

Status ForwardingClient::ReadDirOnce(const std::string& path, const std::string& start_after, size_t max,
                                     std::vector<DirEntry>* entries, bool* end) {
  rpc::ReadDirRequest req;
  req.path = path;
  req.start_after = start_after;
  req.max_entries = static_cast<uint32_t>(std::clamp<size_t>(max, 1, rpc::kMaxReadDirPage));
  Call call;
  Status s = CallIoNode(rpc::Verb::kReadDir, rpc::EncodeBody(req), &call);
  if (!s.ok()) return s;
  rpc::ReadDirReply r;
  std::vector<rpc::DirEntryWire> wire;
  if (!rpc::DecodeBody(call.reply_body, &r, "readdir reply").ok() || !rpc::DecodeDirEntries(call.payload_in, &wire)) {
    return Status::Error(EBADMSG, "malformed readdir reply");
  }
  *end = r.end;
  entries->clear();
  for (auto& w : wire) entries->push_back({std::move(w.name), w.type, w.ino});
  return Status::OK();
}

Status ForwardingClient::ReadDirPage(const std::string& path, const std::string& start_after, size_t max_entries,
                                     std::vector<DirEntry>* entries, bool* end) {
  std::lock_guard<std::mutex> l(mu_);
  return ReadDirOnce(path, start_after, max_entries, entries, end);
}

Status ForwardingClient::ReadDir(const std::string& path, std::vector<DirEntry>* entries) {
  std::lock_guard<std::mutex> l(mu_);
  entries->clear();
  std::string after;
  for (bool end = false; !end;) {
    std::vector<DirEntry> page;
    Status s = ReadDirOnce(path, after, rpc::kMaxReadDirPage, &page, &end);
    if (!s.ok()) return s;
    if (page.empty()) break;
    after = page.back().name;
    for (auto& e : page) entries->push_back(std::move(e));
  }
  return Status::OK();
}

Status ForwardingClient::Write(const std::string& path, uint64_t file_id, uint64_t offset, const void* buf,
                               size_t len) {
  if (len == 0) return Status::OK();
  std::lock_guard<std::mutex> l(mu_);
  rpc::FwdWriteRequest req;
  req.path = path;
  req.offset = offset;
  Call call;
  call.payload.push_back({const_cast<void*>(buf), len});
  return CallIoNode(rpc::Verb::kFwdWrite, rpc::EncodeBody(req), &call);
}

Status ForwardingClient::Append(const std::string& path, uint64_t file_id, const void* buf, size_t len,
                                uint64_t* offset) {
  std::lock_guard<std::mutex> l(mu_);
  rpc::FwdWriteRequest req;
  req.path = path;
  req.append = 1;
  Call call;
  if (len > 0) call.payload.push_back({const_cast<void*>(buf), len});
  Status s = CallIoNode(rpc::Verb::kFwdWrite, rpc::EncodeBody(req), &call);
  rpc::OffsetReply r;
  if (s.ok()) s = rpc::DecodeBody(call.reply_body, &r, "append reply");
  if (s.ok()) *offset = r.offset;
  return s;
}

Status ForwardingClient::Read(const std::string& path, uint64_t file_id, uint64_t offset, void* buf, size_t len,
                              size_t* nread) {
  std::lock_guard<std::mutex> l(mu_);
  *nread = 0;
  while (*nread < len) {
    size_t part = static_cast<size_t>(std::min<uint64_t>(len - *nread, rpc::kMaxFwdRead));
    rpc::FwdReadRequest req;
    req.path = path;
    req.offset = offset + *nread;
    req.length = part;
    Call call;
    call.sink.push_back({static_cast<char*>(buf) + *nread, part});
    Status s = CallIoNode(rpc::Verb::kFwdRead, rpc::EncodeBody(req), &call);
    if (!s.ok()) return s;
    *nread += call.payload_received;
    if (call.payload_received < part) break;  // end of file
  }
  return Status::OK();
}

Status ForwardingClient::Truncate(const std::string& path, uint64_t size) {
  std::lock_guard<std::mutex> l(mu_);
  rpc::SizeRequest req;
  req.target.path = path;
  req.size = size;
  Call call;
  return CallIoNode(rpc::Verb::kSetSize, rpc::EncodeBody(req), &call);
}

Status ForwardingClient::OpenFile(const std::string& path, bool create, uint32_t mode, bool exclusive, uint64_t,
                                  Metadata* md, bool* created) {
  if (created != nullptr) *created = false;
  return create ? Create(path, mode, exclusive, md, created) : Stat(path, md);
}

Status ForwardingClient::TruncateFile(const std::string& path, uint64_t, uint64_t size) {
  return Truncate(path, size);
}

Status ForwardingClient::Link(const std::string&, const std::string&) {
  return Status::Error(EOPNOTSUPP, "hard links are not supported in forwarding mode");
}

Status ForwardingClient::Mknod(const std::string& path, uint32_t mode, uint64_t rdev) {
  if ((mode & S_IFMT) != 0 && !S_ISREG(mode)) {
    return Status::Error(EOPNOTSUPP, "special files are not supported in forwarding mode");
  }
  Metadata md;
  return Create(path, mode & 07777, true, &md, nullptr);
}

Status ForwardingClient::Rename(const std::string& old_path, const std::string& new_path) {
  std::lock_guard<std::mutex> l(mu_);
  rpc::RenameRequest req;
  req.old_path = old_path;
  req.new_path = new_path;
  Call call;
  return CallIoNode(rpc::Verb::kFwdRename, rpc::EncodeBody(req), &call);
}

// The PFS has its own renameat2; the forwarding protocol carries plain renames only.
Status ForwardingClient::Exchange(const std::string&, const std::string&) {
  return Status::Error(EINVAL, "RENAME_EXCHANGE is not supported in forwarding mode");
}

// The I/O node fsyncs the PFS file (or directory) by its path. SyncFs comes from ClientImpl:
// every I/O node syncs the PFS directory's file system.
Status ForwardingClient::Sync(const std::string& path, uint64_t file_id, SyncLevel level) {
  std::lock_guard<std::mutex> l(mu_);
  rpc::SyncRequest req;
  req.file_id = file_id;
  req.path = path;
  req.flags = level == SyncLevel::kFile ? rpc::kSyncChunks | rpc::kSyncMetadata : rpc::kSyncChunks | rpc::kSyncDataOnly;
  Call call;
  return CallIoNode(rpc::Verb::kSync, rpc::EncodeBody(req), &call);
}

Status ForwardingClient::StatFs(FsStats* stats) {
  std::lock_guard<std::mutex> l(mu_);
  Call call;
  Status s = CallIoNode(rpc::Verb::kHealth, "", &call);
  rpc::HealthReply r;
  if (s.ok()) s = rpc::DecodeBody(call.reply_body, &r, "health reply");
  if (!s.ok()) return s;
  *stats = FsStats();
  stats->total_bytes = r.total_bytes;
  stats->free_bytes = r.free_bytes;
  return Status::OK();
}

}  // namespace gkfs
