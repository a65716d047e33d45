// MetadataBackend: what the daemon's one handler table (handlers_metadata.cpp) asks of the
// store of entries and inodes, whichever it is: MetadataProvider (normal mode: RocksDB,
// entries by path hash, inodes at their home) or the forwarding provider's PFS namespace
// (forwarding mode: ordinary files under the PFS directory, known by path). The handlers
// decode, validate and reply the same way for both, so the verbs mean the same in both
// modes. A backend without some verb's notion (link counts, entry moves, sizes kept apart
// from the data) answers it with EOPNOTSUPP. Implementations are thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gkfs/status.h"
#include "rpc/schema.h"

namespace gkfs {

class MetadataBackend {
 public:
  virtual ~MetadataBackend() = default;
  virtual Status Create(const rpc::CreateRequest& req, rpc::CreateReply* r) = 0;
  // Create (Remove) and TouchDir of the parent in one step (rpc::InDirReply).
  virtual void CreateInDir(const rpc::CreateRequest& req, rpc::InDirReply* r) = 0;
  virtual void RemoveInDir(const rpc::RemoveRequest& req, rpc::InDirReply* r) = 0;
  virtual Status Remove(const rpc::RemoveRequest& req, rpc::RemoveReply* r) = 0;
  virtual Status Links(const rpc::LinksRequest& req, rpc::RemoveReply* r) = 0;
  virtual Status PutEntry(const rpc::PutEntryRequest& req, rpc::PutEntryReply* r) = 0;
  virtual Status Stat(const rpc::Target& target, uint64_t opener, rpc::RecordReply* r) = 0;
  virtual Status StatForRead(const rpc::Target& target, uint64_t opener, rpc::RecordReply* r) = 0;
  // r->reclaimed: the orphans erased for good, also those erased before a failure midway
  // (their chunks are the caller's to remove either way).
  virtual Status Release(const rpc::ReleaseRequest& req, rpc::ReleaseReply* r) = 0;
  // The session is alive: its lease starts again (a backend without sessions: nothing to do).
  virtual Status Renew(const rpc::ReleaseRequest& req) = 0;
  // How long a session's opens outlive its last sign of life; 0: no sessions are kept.
  virtual int64_t session_lease_ms() const { return 0; }
  virtual Status TouchDir(const rpc::TouchDirRequest& req, rpc::TouchDirReply* r) = 0;
  virtual Status UntouchDir(const rpc::UntouchDirRequest& req) = 0;
  virtual Status SetSize(const rpc::SizeRequest& req, rpc::TargetReply* r) = 0;
  virtual Status SetAttr(const rpc::SetAttrRequest& req, rpc::TargetReply* r) = 0;
  virtual Status GrowSize(uint64_t ino, uint64_t size, int64_t mtime_ns) = 0;
  virtual Status ReserveAppend(uint64_t ino, uint64_t length, uint64_t* offset) = 0;
  // rename(2) of one name in one step, where the backend holds both (FwdRename).
  virtual Status Rename(const std::string& old_path, const std::string& new_path) = 0;
  virtual Status ReadDir(const std::string& dir, const std::string& start_after, uint32_t max,
                         std::vector<rpc::DirEntryWire>* entries, bool* end) = 0;
  // Entries and orphans held (the Health reply, metrics); counters, no scan.
  virtual uint64_t CountRecords() const = 0;
  virtual uint64_t CountOrphans() const = 0;
};

}  // namespace gkfs
