// MetadataProvider: the metadata of the paths this daemon owns (H(path) mod N), over a
// KvStore. Owns the store. Thread-safe: read-modify-write operations (exclusive create,
// append reservation, rename's put) serialise on a striped lock by path; size growth is a
// merge and takes no lock.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gkfs/metadata.h"
#include "daemon/kv_store.h"
#include "rpc/schema.h"

namespace gkfs {

class MetadataProvider {
 public:
  explicit MetadataProvider(std::unique_ptr<KvStore> store);
  // Makes sure the root directory's record exists. Every daemon keeps one, so whichever
  // daemon H("/") picks in a file system of any size can answer for "/".
  Status EnsureRoot(uint32_t uid, uint32_t gid);

  // Creates path; exclusive: EEXIST if present, else the present record is returned.
  // *created tells which.
  Status Create(const rpc::CreateRequest& req, Metadata* md, bool* created);
  // Create (Remove) and TouchDir of the parent in one step, for a path whose parent this
  // daemon also owns. The parent is read first: its status is in r->dir_status (ENOENT;
  // ENOTDIR with its record when it is no directory) and then nothing is done. Otherwise
  // the create (removal) runs, its status in r->status, and only an entry it made (removed)
  // touches the parent, both records in one write.
  void CreateInDir(const rpc::CreateRequest& req, rpc::InDirReply* r);
  void RemoveInDir(const rpc::RemoveRequest& req, rpc::InDirReply* r);
  Status Stat(const std::string& path, Metadata* md);
  // Stat for a read of the file: also sets atime to now when relatime asks (atime not
  // after mtime or ctime, or a day old). A merge, no lock: racing readers both set ~now.
  Status StatForRead(const std::string& path, Metadata* md);
  // An entry of directory `path` was added or removed: *before is its record as it was;
  // a directory gets mtime = ctime = *touched_ns (> both before), else *touched_ns = 0.
  Status TouchDir(const std::string& path, Metadata* before, int64_t* touched_ns);
  // Undoes TouchDir when the directory's mtime and ctime are still touched_ns.
  Status UntouchDir(const rpc::UntouchDirRequest& req);
  // kind: 0 any, 1 must not be a directory (EISDIR), 2 must be one (ENOTDIR).
  Status Remove(const std::string& path, uint8_t kind, Metadata* removed);
  Status GrowSize(const std::string& path, uint64_t size, int64_t mtime_ns);
  // Returns the offset reserved for an append of length bytes.
  Status ReserveAppend(const std::string& path, uint64_t length, int64_t mtime_ns, uint64_t* offset);
  Status SetSize(const std::string& path, uint64_t size, int64_t mtime_ns);
  Status SetAttr(const rpc::SetAttrRequest& req);
  // Stores record under path (rename target); *replaced and *old describe what was there.
  Status PutRecord(const std::string& path, const std::string& record, bool* replaced, std::string* old);
  // Children of dir held here with names > start_after, sorted, at most max.
  Status ReadDir(const std::string& dir, const std::string& start_after, uint32_t max,
                 std::vector<rpc::DirEntryWire>* entries, bool* end);
  // Records held, not counting the root's.
  uint64_t CountRecords();
  // Makes every metadata update acknowledged so far durable (the store's log synced).
  Status Sync();

 private:
  class InDir;  // the two stripe locks and the parent's record of CreateInDir/RemoveInDir
  std::mutex& LockFor(const std::string& path);
  Status Load(const std::string& path, Metadata* md);

  std::unique_ptr<KvStore> store_;
  std::array<std::mutex, 64> stripes_;
};

}  // namespace gkfs
