// MetadataProvider: the directory entries this daemon owns (the paths with H(path) mod N =
// this daemon) and the inodes it is home to (minted here, the home index in the id's top 16
// bits), over a KvStore (docs/formats.md: keys and values). Owns the store. Thread-safe:
// read-modify-writes lock a stripe per entry path, then a stripe per inode (in that order;
// several of one kind in address order); size growth is a merge and takes no lock, which is
// why link counts move by merge operands too.
//
// Operations addressed by an rpc::Target resolve a path to the inode its entry names; when
// that inode is not held here they do nothing and report its id (remote_ino), and the
// client asks again at the inode's home.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/metadata_codec.h"
#include "common/placement.h"
#include "daemon/kv_store.h"
#include "daemon/metadata_backend.h"
#include "daemon/record_cache.h"
#include "gkfs/metadata.h"
#include "rpc/schema.h"

namespace gkfs {

class MetadataProvider : public MetadataBackend {
 public:
  // session_lease_ms: how long a client session's counted opens outlive its last sign of
  // life (an open, a Release or a Renew); ExpiredSessions lists them after that.
  explicit MetadataProvider(std::unique_ptr<KvStore> store, int64_t session_lease_ms = 30000);
  // Checks the store's format (EINVAL naming the directory for a store written by a gkfs
  // before inodes, format 1), makes the root's entry and inode if missing, and loads the
  // inode id counter. Orphans found (left by a previous run) are held by kPreviousRun for
  // one lease: a client that still holds one counts it again with its next Renew.
  Status Open(const std::string& where, uint32_t uid, uint32_t gid);

  Status Create(const rpc::CreateRequest& req, rpc::CreateReply* r) override;
  // Create (Remove) and TouchDir of the parent in one step, for a path whose parent's entry
  // and inode are held here too (rpc::InDirReply).
  void CreateInDir(const rpc::CreateRequest& req, rpc::InDirReply* r) override;
  void RemoveInDir(const rpc::RemoveRequest& req, rpc::InDirReply* r) override;
  Status Remove(const rpc::RemoveRequest& req, rpc::RemoveReply* r) override;
  // At the inode's home: its link count += delta; removes the inode at 0 (a directory's
  // at any negative delta), then r->reclaim.
  Status Links(const rpc::LinksRequest& req, rpc::RemoveReply* r) override;
  Status PutEntry(const rpc::PutEntryRequest& req, rpc::PutEntryReply* r) override;

  // opener != 0: an open(2) by that session; a regular file held here counts it (Release).
  Status Stat(const rpc::Target& target, uint64_t opener, rpc::RecordReply* r) override;
  // Stat for a read of the file: also sets atime to now when relatime asks (atime not
  // after mtime or ctime, or a day old). A merge, no lock: racing readers both set ~now.
  Status StatForRead(const rpc::Target& target, uint64_t opener, rpc::RecordReply* r) override;
  // The session closed its last descriptors of these inodes; orphans no session holds any
  // more are removed and listed in r (their chunks are the caller's to remove).
  Status Release(const rpc::ReleaseRequest& req, rpc::ReleaseReply* r) override;
  // The session is alive: its lease starts again. A session unknown here (this daemon
  // restarted since it opened them) has the listed opens counted anew.
  Status Renew(const rpc::ReleaseRequest& req) override;
  // The opens of every session whose lease ran out (ino once per counted open), for the
  // caller to Release as that session. A session stays listed until released.
  std::vector<rpc::ReleaseRequest> ExpiredSessions();
  // The session that holds the orphans a previous run of this daemon left.
  static constexpr uint64_t kPreviousRun = ~0ull;
  int64_t session_lease_ms() const override { return session_lease_ms_; }
  // Inodes unlinked while open, kept until released ("#o" keys). A counter: no scan.
  uint64_t CountOrphans() const override { return static_cast<uint64_t>(std::max<int64_t>(0, orphans_.load())); }
  Status TouchDir(const rpc::TouchDirRequest& req, rpc::TouchDirReply* r) override;
  Status UntouchDir(const rpc::UntouchDirRequest& req) override;
  Status SetSize(const rpc::SizeRequest& req, rpc::TargetReply* r) override;
  Status SetAttr(const rpc::SetAttrRequest& req, rpc::TargetReply* r) override;

  // By inode id, at its home.
  Status GrowSize(uint64_t ino, uint64_t size, int64_t mtime_ns) override;
  Status ReserveAppend(uint64_t ino, uint64_t length, uint64_t* offset) override;

  // Children of dir held here with names > start_after, sorted, at most max.
  Status ReadDir(const std::string& dir, const std::string& start_after, uint32_t max,
                 std::vector<rpc::DirEntryWire>* entries, bool* end) override;
  // Directory entries held, not counting the root's. A counter kept by every operation
  // that adds or erases one (counted once by Open): statfs and status scan nothing.
  uint64_t CountRecords() const override { return static_cast<uint64_t>(std::max<int64_t>(0, entries_.load())); }
  // Entries move one by one (the client's PutEntry and Remove): EOPNOTSUPP.
  Status Rename(const std::string& old_path, const std::string& new_path) override;
  // Store lookups (Gets) made so far; the provider's caches' hits are not counted.
  uint64_t CountStoreReads() const { return store_reads_.load(std::memory_order_relaxed); }
  // Hands every metadata update made so far to the OS (KvStore::Flush): after it, a crash of
  // the daemon loses none of them. The network thread calls it before its replies go out.
  Status Flush() { return store_->Flush(); }
  // Makes every metadata update acknowledged so far durable (the store's log synced).
  Status Sync();
  // About how many bytes the metadata store holds (KvStore::ApproximateBytes).
  uint64_t StoreBytes() const { return store_->ApproximateBytes(); }

 private:
  class Locked;  // the stripes one operation holds
  std::mutex& EntryLock(const std::string& path);
  std::mutex& InodeLock(uint64_t ino);
  // Through the caches: an entry or an inode read or written lately costs no Get.
  Status LoadEntry(const std::string& path, Entry* e);
  Status LoadInode(uint64_t ino, Metadata* md);
  // After a write of the store: the caches' view of path (e: its entry now; null: erased)
  // and of an inode (md: its record now). generation: the cache's, taken before the write
  // (record_cache.h). Forget: after an erase or a merge of inode ino.
  void Wrote(const std::string& path, const Entry* e, uint64_t generation);
  void Wrote(uint64_t ino, const Metadata& md, uint64_t generation) { inode_cache_.Put(ino, md, generation); }
  void Forget(uint64_t ino) { inode_cache_.Erase(ino); }
  void CacheNew(const Metadata& md);
  // The inode id target names (by id, or the entry at its path).
  Status TargetIno(const rpc::Target& target, uint64_t* ino);
  // The inode target names: *ino, and whether it is held here (*local). ENOENT for a path
  // without an entry, or an ino (asked by id) not held here.
  Status Resolve(const rpc::Target& target, uint64_t* ino, Metadata* md, bool* local);
  // Resolve under the inode's stripe lock, taken into *lock, for a read-modify-write. An
  // inode held elsewhere (asked by path) gives OK with *remote set; nothing is loaded.
  Status LockTarget(const rpc::Target& target, std::unique_lock<std::mutex>* lock, uint64_t* ino,
                    Metadata* md, uint64_t* remote);
  // A new inode id with `home` in its top bits. ESTALE when home is not the index this
  // daemon was first given (the daemons' order changed since the rootdir was made).
  Status MintIno(uint32_t home, uint64_t* ino);
  // The new entry (and inode) of a create, into *updates; *record the inode's record.
  Status NewEntry(const rpc::CreateRequest& req, int64_t now, std::string* entry, std::string* inode_key,
                  std::string* record, Metadata* md);
  // Dropping one link of md (held here, its inode lock held): the update, the record after,
  // and whether the inode is gone (reclaim).
  // A regular file whose last link goes while a session holds it open stays as an orphan
  // (nlink 0, "#o" key) and *reclaim is false. REQUIRES: InodeLock(md.file_id) held.
  struct Dropped {  // what DropLink writes; the updates view these strings
    std::string key, operand, orphan_key, after;
    bool reclaim = false;
  };
  void DropLink(const Metadata& md, int64_t now, Dropped* out, std::vector<KvStore::Update>* updates);
  // REQUIRES: opens_mu_ held.
  void CountOpenLocked(uint64_t opener, uint64_t ino);
  void CountOpen(uint64_t opener, const Metadata& md);
  // The create of an existing name: its inode's record (counting an open by opener), or
  // *remote when the inode lives elsewhere.
  void DescribeExisting(uint64_t ino, uint64_t opener, std::string* record, uint64_t* remote);
  bool IsOpen(uint64_t ino);

  std::unique_ptr<KvStore> store_;
  std::array<std::mutex, 64> entry_stripes_;
  std::array<std::mutex, 64> inode_stripes_;

  std::mutex mint_mu_;
  uint32_t home_ = kMaxDaemons;   // GUARDED_BY(mint_mu_); kMaxDaemons: not known yet
  uint64_t next_ino_ = 2;         // GUARDED_BY(mint_mu_)
  uint64_t ino_limit_ = 2;        // GUARDED_BY(mint_mu_): persisted; ids below it may be used

  // Exact copies (record_cache.h); every store write below updates them. About 200 bytes
  // per resident: 25 MB at most.
  RecordCache<std::string, Entry> entry_cache_{1 << 16};
  RecordCache<uint64_t, Metadata> inode_cache_{1 << 16};
  std::atomic<uint64_t> store_reads_{0};

  std::atomic<int64_t> entries_{0};  // directory entries but the root's
  std::atomic<int64_t> orphans_{0};

  std::mutex opens_mu_;
  // ino -> session -> opens not yet released. In memory: a daemon restart forgets them; the
  // sessions still alive count them again with their next Renew (docs/operations.md).
  std::unordered_map<uint64_t, std::unordered_map<uint64_t, uint32_t>> opens_;  // GUARDED_BY(opens_mu_)
  struct Session {
    int64_t expires_ns = 0;  // steady clock
    uint64_t opens = 0;      // counted opens held here
  };
  std::unordered_map<uint64_t, Session> sessions_;  // GUARDED_BY(opens_mu_)
  const int64_t session_lease_ms_;

  std::mutex append_mu_;
  std::unordered_map<uint64_t, uint64_t> append_end_;  // GUARDED_BY(append_mu_): reserved ends
};

// The store key of inode ino ("#i" and 16 lower-case hex digits), and of its orphan mark.
std::string InodeKey(uint64_t ino);
std::string OrphanKey(uint64_t ino);

}  // namespace gkfs
