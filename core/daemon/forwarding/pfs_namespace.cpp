#include "daemon/forwarding/pfs_namespace.h"

#include <sys/stat.h>

#include "common/metadata_codec.h"
#include "common/path_util.h"

namespace gkfs {
namespace {

Status NotHere(const char* what) {
  return Status::Error(EOPNOTSUPP, std::string(what) + " has no meaning on the PFS of a daemon in forwarding mode");
}

// The PFS knows files by path: a request by inode id cannot be resolved there.
Status ByPath(const rpc::Target& target) {
  return target.path.empty() ? Status::Error(EOPNOTSUPP, "a daemon in forwarding mode knows files by path, "
                                                         "not by inode id")
                             : Status::OK();
}

}  // namespace

Status PfsNamespace::Create(const rpc::CreateRequest& req, rpc::CreateReply* r) {
  Metadata md;
  bool created = false;
  Status s;
  if (req.ino != 0) {
    s = store_.Link(req.link_target, req.path, &md);
    created = s.ok();
  } else if (!S_ISREG(req.mode) && !S_ISDIR(req.mode) && !S_ISLNK(req.mode)) {
    return Status::Error(EOPNOTSUPP, "special files are not supported in forwarding mode");
  } else {
    s = store_.Create(req, &md, &created);
  }
  if (!s.ok()) return s;
  r->record = EncodeMetadata(md);
  r->created = created;
  return Status::OK();
}

bool PfsNamespace::DescribeParent(const std::string& path, rpc::InDirReply* r) {
  Metadata dir;
  Status s = store_.Stat(ParentPath(path), &dir);
  if (s.ok()) r->dir_record = EncodeMetadata(dir);
  if (s.ok() && !dir.is_dir()) s = Status::Error(ENOTDIR, "a parent is not a directory");
  r->dir_status = s.code();
  return s.ok();
}

void PfsNamespace::CreateInDir(const rpc::CreateRequest& req, rpc::InDirReply* r) {
  if (!DescribeParent(req.path, r)) return;
  rpc::CreateReply c;
  Status s = Create(req, &c);
  r->status = s.code();
  r->record = std::move(c.record);
  r->done = c.created;
}

void PfsNamespace::RemoveInDir(const rpc::RemoveRequest& req, rpc::InDirReply* r) {
  if (!DescribeParent(req.path, r)) return;
  rpc::RemoveReply removed;
  Status s = Remove(req, &removed);
  r->status = s.code();
  r->record = std::move(removed.record);
  r->done = s.ok();
}

// kEntryOnly changes nothing here: the PFS keeps the link counts.
Status PfsNamespace::Remove(const rpc::RemoveRequest& req, rpc::RemoveReply* r) {
  Metadata md;
  Status s = store_.Remove(req.path, req.kind & 3, &md);
  if (s.ok()) r->record = EncodeMetadata(md);
  return s;
}

Status PfsNamespace::Links(const rpc::LinksRequest&, rpc::RemoveReply*) { return NotHere("Links"); }

Status PfsNamespace::PutEntry(const rpc::PutEntryRequest&, rpc::PutEntryReply*) { return NotHere("PutEntry"); }

Status PfsNamespace::Stat(const rpc::Target& target, uint64_t, rpc::RecordReply* r) {
  Metadata md;
  Status s = ByPath(target);
  if (s.ok()) s = store_.Stat(target.path, &md);
  if (s.ok()) r->record = EncodeMetadata(md);
  return s;
}

Status PfsNamespace::StatForRead(const rpc::Target& target, uint64_t opener, rpc::RecordReply* r) {
  return Stat(target, opener, r);  // the PFS keeps atime itself
}

Status PfsNamespace::Release(const rpc::ReleaseRequest&, rpc::ReleaseReply*) { return Status::OK(); }

Status PfsNamespace::TouchDir(const rpc::TouchDirRequest& req, rpc::TouchDirReply* r) {
  rpc::RecordReply record;
  Status s = Stat(req.target, 0, &record);
  if (s.ok()) r->record = std::move(record.record);
  return s;
}

Status PfsNamespace::UntouchDir(const rpc::UntouchDirRequest&) { return Status::OK(); }

Status PfsNamespace::SetSize(const rpc::SizeRequest& req, rpc::TargetReply*) {
  Status s = ByPath(req.target);
  return s.ok() ? store_.Truncate(req.target.path, req.size) : s;
}

Status PfsNamespace::SetAttr(const rpc::SetAttrRequest& req, rpc::TargetReply*) {
  Status s = ByPath(req.target);
  return s.ok() ? store_.SetAttr(req) : s;
}

Status PfsNamespace::GrowSize(uint64_t, uint64_t, int64_t) { return NotHere("GrowSize"); }

Status PfsNamespace::ReserveAppend(uint64_t, uint64_t, uint64_t*) { return NotHere("ReserveAppend"); }

Status PfsNamespace::Rename(const std::string& old_path, const std::string& new_path) {
  return store_.Rename(old_path, new_path);
}

Status PfsNamespace::ReadDir(const std::string& dir, const std::string& start_after, uint32_t max,
                             std::vector<rpc::DirEntryWire>* entries, bool* end) {
  return store_.ReadDir(dir, start_after, max, entries, end);
}

}  // namespace gkfs
