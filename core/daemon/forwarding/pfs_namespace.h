// PfsNamespace: the MetadataBackend of a daemon in forwarding mode, over the PfsStore: the
// verbs of the one handler table answered from the PFS directory, where files are known by
// path and the PFS keeps their sizes, times and link counts itself. The verbs that have no
// meaning there (link counts, entry moves, sizes kept apart from the data, the addressing of
// inodes by id) get EOPNOTSUPP; a TouchDir only reports the directory (the PFS touched it).
// Thread-safe as PfsStore is.
#pragma once

#include "daemon/forwarding/pfs_store.h"
#include "daemon/metadata_backend.h"

namespace gkfs {

class PfsNamespace : public MetadataBackend {
 public:
  explicit PfsNamespace(PfsStore* store) : store_(*store) {}
  // ino != 0: a hard link to the file at req.link_target (link(2)); else a file, directory
  // or symlink. Device nodes, FIFOs and sockets: EOPNOTSUPP.
  Status Create(const rpc::CreateRequest& req, rpc::CreateReply* r) override;
  void CreateInDir(const rpc::CreateRequest& req, rpc::InDirReply* r) override;
  void RemoveInDir(const rpc::RemoveRequest& req, rpc::InDirReply* r) override;
  Status Remove(const rpc::RemoveRequest& req, rpc::RemoveReply* r) override;
  Status Links(const rpc::LinksRequest& req, rpc::RemoveReply* r) override;
  Status PutEntry(const rpc::PutEntryRequest& req, rpc::PutEntryReply* r) override;
  Status Stat(const rpc::Target& target, uint64_t opener, rpc::RecordReply* r) override;
  Status StatForRead(const rpc::Target& target, uint64_t opener, rpc::RecordReply* r) override;
  // Opens are not counted: nothing is released.
  Status Release(const rpc::ReleaseRequest& req, rpc::ReleaseReply* r) override;
  Status Renew(const rpc::ReleaseRequest&) override { return Status::OK(); }  // no sessions
  Status TouchDir(const rpc::TouchDirRequest& req, rpc::TouchDirReply* r) override;
  Status UntouchDir(const rpc::UntouchDirRequest& req) override;
  Status SetSize(const rpc::SizeRequest& req, rpc::TargetReply* r) override;
  Status SetAttr(const rpc::SetAttrRequest& req, rpc::TargetReply* r) override;
  Status GrowSize(uint64_t ino, uint64_t size, int64_t mtime_ns) override;
  Status ReserveAppend(uint64_t ino, uint64_t length, uint64_t* offset) override;
  Status Rename(const std::string& old_path, const std::string& new_path) override;
  Status ReadDir(const std::string& dir, const std::string& start_after, uint32_t max,
                 std::vector<rpc::DirEntryWire>* entries, bool* end) override;
  uint64_t CountRecords() const override { return 0; }
  uint64_t CountOrphans() const override { return 0; }

 private:
  // The parent of path as InDirReply wants it: dir_status (ENOENT, ENOTDIR) and dir_record;
  // false when the operation must not run.
  bool DescribeParent(const std::string& path, rpc::InDirReply* r);
  PfsStore& store_;
};

}  // namespace gkfs
