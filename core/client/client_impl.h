// ClientImpl: gkfs::Client over the UCX ClientTransport, the one client of both modes.
// Thread-safe without a lock of its own: its state is fixed at Connect, and each group of
// calls runs on a transport leased from a pool (one per thread in a call), so the calls of
// several threads are in flight at once. The *Locked helpers are the bodies of the public
// operations (named when one lock serialised them).
// Which daemon serves what is the Routing's (routing.h): in normal mode entry operations go
// to the path's owner, inode operations to the inode's home (its id's top 16 bits); an entry
// whose inode lives elsewhere (renamed, hard-linked) is answered with the inode's id and
// costs a second hop; data operations send one request per target daemon (all in flight at
// once) and the size grows after the bytes are written. In forwarding mode every request
// goes to the I/O node, whose store knows files by path (Routing::by_path); the operations,
// their checks and their errno order are the same code. A host mapped `direct` runs them on
// the PFS directory in this process (DirectPfs), through the I/O node's handler table.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "client/direct.h"
#include "client/routing.h"
#include "client/session_leases.h"
#include "common/chunk.h"
#include "common/hosts_file.h"
#include "gkfs/client.h"
#include "transport/client_transport.h"
#include "transport/transport_pool.h"

namespace gkfs {

class ClientImpl : public Client {
 public:
  ClientImpl(std::vector<HostEntry> hosts, std::unique_ptr<transport::ClientTransport> transport,
             std::unique_ptr<Routing> routing);
  // Asks the daemons for the file system's configuration (the first good reply of a few
  // asked at once; see FetchConfig) and introduces this client to those that answered.
  Status FetchConfig();

  const FsConfig& config() const override { return config_; }
  void SetCredentials(const Credentials* credentials) { credentials_ = credentials; }
  // Renew the sessions of the opens this client counts from a thread of its own
  // (ClientOptions::renew_sessions). REQUIRES: FetchConfig done, before any OpenFile.
  void RenewSessions();
  Status Create(const std::string& path, uint32_t mode, bool exclusive, Metadata* md,
                bool* created) override;
  Status Stat(const std::string& path, Metadata* md) override;
  Status Resolve(const std::string& path, bool follow_last, std::string* resolved, Metadata* md,
                 bool* exists) override;
  Status OpenFile(const std::string& path, bool create, uint32_t mode, bool exclusive, uint64_t opener,
                  Metadata* md, bool* created) override;
  Status Release(uint64_t opener, const std::vector<uint64_t>& inos) override;
  Status Renew(uint64_t opener, const std::vector<uint64_t>& inos) override;
  Status Remove(const std::string& path) override;
  Status RemoveReleasing(const std::string& path, uint64_t opener, std::vector<uint64_t>* owed) override;
  Status Mkdir(const std::string& path, uint32_t mode) override;
  Status Symlink(const std::string& path, const std::string& target) override;
  Status Mknod(const std::string& path, uint32_t mode, uint64_t rdev) override;
  Status Link(const std::string& old_path, const std::string& new_path) override;
  Status Rmdir(const std::string& path) override;
  Status ReadDir(const std::string& path, std::vector<DirEntry>* entries) override;
  Status ReadDirPage(const std::string& path, const std::string& start_after, size_t max_entries,
                     std::vector<DirEntry>* entries, bool* end) override;
  Status Write(const std::string& path, uint64_t file_id, uint64_t offset, const void* buf,
               size_t len) override;
  Status Append(const std::string& path, uint64_t file_id, const void* buf, size_t len,
                uint64_t* offset) override;
  Status Read(const std::string& path, uint64_t file_id, uint64_t offset, void* buf, size_t len,
              size_t* nread) override;
  Status Truncate(const std::string& path, uint64_t size) override;
  Status StatFile(const std::string& path, uint64_t file_id, Metadata* md) override;
  Status TruncateFile(const std::string& path, uint64_t file_id, uint64_t size) override;
  Status SetAttrFile(const std::string& path, uint64_t file_id, int64_t mode, int64_t atime_ns,
                     int64_t mtime_ns, int64_t uid, int64_t gid) override;
  Status Rename(const std::string& old_path, const std::string& new_path) override;
  Status Exchange(const std::string& a, const std::string& b) override;
  Status SetAttr(const std::string& path, int64_t mode, int64_t atime_ns, int64_t mtime_ns,
                 int64_t uid, int64_t gid) override;
  Status StatFs(FsStats* stats) override;
  Status Ping(uint32_t daemon, const void* payload, size_t send_bytes, void* reply,
              size_t reply_bytes) override;
  Status Daemons(std::vector<DaemonInfo>* infos) override;
  Status IoNodeStatistics(uint32_t daemon, IoNodeStats* stats) override;
  Status Metrics(uint32_t daemon, std::string* text) override;
  // client_sync.cpp
  Status Sync(const std::string& path, uint64_t file_id, SyncLevel level) override;
  Status SyncFs() override;

 private:
  // A request without body to daemon `daemon` (EINVAL for a bad index).
  Status AskDaemon(uint32_t daemon, rpc::Verb verb, transport::Call* call);
  Status CallOne(transport::Call* call);
  // Every RPC goes through here: asks daemons not yet asked for their shared-memory offer
  // (--auto-sm), then runs the calls.
  void RunCalls(const std::vector<transport::Call*>& calls);
  void RunCallsOn(transport::ClientTransport& t, const std::vector<transport::Call*>& calls);
  // Takes the configuration an fs_config reply carries (EPROTO for another protocol).
  Status ApplyConfig(const transport::Call& fs_config);
  static void ApplyIntroduction(transport::ClientTransport& t, uint32_t daemon, const transport::Call& fs_config);
  // The daemon that answers for path's entry; the one that holds inode ino (Routing).
  uint32_t MetadataOwner(const std::string& path) { return routing_->EntryOwner(path); }
  uint32_t InodeOwner(uint64_t ino) { return routing_->InodeOwner(ino); }
  // How an open file (or the inode a lookup found) is addressed: by its inode id, or by its
  // path where the daemons know files by path (forwarding mode).
  rpc::Target FileTarget(const std::string& path, uint64_t file_id) const {
    return file_id != 0 && !routing_->by_path() ? rpc::Target{"", file_id} : rpc::Target{path, 0};
  }
  uint32_t TargetOwner(const rpc::Target& target) {
    return target.ino != 0 ? InodeOwner(target.ino) : MetadataOwner(target.path);
  }
  // Sends a Target-addressed request (its reply starts with remote_ino) and, when the entry
  // names an inode held elsewhere, asks again at the inode's home.
  template <class Req>
  Status CallTarget(rpc::Verb verb, Req req, transport::Call* call);
  // The record of what target names, following a redirect to the inode's home; StatInode:
  // by id (opener != 0: an open's lookup, counted there).
  Status StatTarget(const rpc::Target& target, Metadata* md, uint64_t opener = 0);
  Status StatInode(uint64_t ino, Metadata* md, uint64_t opener = 0);
  // The record a Stat call (by path) answered, following its redirect.
  Status DecodeStat(const transport::Call& call, Metadata* md);
  // The record a Create/Remove-style reply carried, or (remote_ino != 0) its home's.
  Status RecordOrRemote(Status s, const std::string& record, uint64_t remote_ino, Metadata* md,
                        uint64_t opener = 0);
  Status ReleaseLocked(uint64_t opener, const std::vector<uint64_t>& inos);
  // Removes the chunks of the orphans a Release (or a removal carrying one) reclaimed.
  Status ReclaimReleased(const rpc::ReleaseReply& released);
  // Release or Renew of a session's inos: one call per home, at most rpc::kMaxRelease each.
  std::vector<transport::Call> SessionCalls(rpc::Verb verb, uint64_t opener, const std::vector<uint64_t>& inos);
  // Whether a create (removal) of path and the touch of its parent go as one CreateInDir
  // (RemoveInDir): one daemon owns both, so one round trip and one write.
  bool OneOwnerWithParent(const std::string& path, const std::string& parent) {
    return MetadataOwner(path) == MetadataOwner(parent);
  }
  transport::Call MetaCall(const std::string& path, rpc::Verb verb, std::string body);
  // A Stat of path (its reply goes through DecodeStat, which follows a redirect).
  transport::Call StatCall(const std::string& path);
  // A call to the home of inode ino.
  transport::Call InodeCall(uint64_t ino, rpc::Verb verb, std::string body);
  Status StatLocked(const std::string& path, Metadata* md, uint64_t opener = 0);
  // Makes the entry path: with a new inode (req.ino 0), or naming req.ino (a hard link).
  Status CreateLocked(rpc::CreateRequest req, Metadata* md, bool* created);
  // extra: one more call sent in the same round trip (may be null).
  Status ReadDirLocked(const std::string& path, const std::string& start_after, size_t max_entries,
                       bool check_dir, std::vector<DirEntry>* entries, bool* end,
                       transport::Call* extra = nullptr);

  // Directory times and permissions (client_dirs.cpp). A TouchDir of the parent travels
  // beside each operation that adds or removes an entry; its reply is the parent's record.
  struct DirTouch {
    Status status;             // the parent's: ENOENT, ENOTDIR (not a directory), ...
    Metadata before;           // its record before the touch
    int64_t touched_ns = 0;    // 0: nothing touched
    int32_t nlink_delta = 0;   // what the touch did to its link count
    uint64_t remote = 0;       // InDir replies: the parent's inode lives elsewhere
  };
  // nlink_delta: a subdirectory is made (+1) or removed (-1).
  transport::Call TouchCall(const rpc::Target& dir, int32_t nlink_delta);
  DirTouch DecodeTouch(const transport::Call& touch, int32_t nlink_delta);
  // The outcome of a CreateInDir/RemoveInDir: *dir the parent's; returns the operation's
  // status and its reply.
  static Status DecodeInDir(const transport::Call& call, DirTouch* dir, rpc::InDirReply* r);
  // Runs op (and extra, if any) beside the TouchDir of dir, in one round trip (a second one
  // for a directory whose inode lives elsewhere); the touch's outcome.
  DirTouch RunBesideTouch(transport::Call* op, const rpc::Target& dir, int32_t nlink_delta,
                          transport::Call* extra = nullptr);
  // Appends the call that undoes a touch, if there was one.
  void AddUntouch(const DirTouch& touch, std::vector<transport::Call>* calls);
  // Whether directory permissions are checked: credentials set, caller not privileged.
  bool Checking() const;
  // EACCES without search permission on dir (not Checking(): OK).
  Status CheckSearch(const Metadata& dir) const;
  // Adding (entry null) or removing entry in dir: EACCES without write and search
  // permission, EPERM where the sticky bit protects entry.
  Status CheckModify(const Metadata& dir, const Metadata* entry) const;
  // With credentials (Checking()), Linux's checks before adding (or removing) the entry
  // path, on a stat of it and of its parent: search permission on the parent, then, if the
  // name is free (or taken), write permission and the sticky bit.
  Status CheckEntryChangeLocked(const std::string& path, bool adding);
  // Removes the entry path (kind as rpc::RemoveRequest) beside the touch of its parent and
  // drops its link; *removed is the inode after that, *reclaim whether its data must go
  // (rpc::RemoveReply::reclaim: 0, kReclaim or kReclaimedHere). release: opens ended whose
  // home is path's daemon, applied there first (rpc::RemoveRequest::release) whatever the
  // removal's outcome once sent; what it reclaimed is reclaimed here too.
  // With credentials, the parent's permissions are checked first (a round trip more).
  Status RemoveEntryLocked(const std::string& path, uint8_t kind, Metadata* removed, uint8_t* reclaim,
                           rpc::ReleaseRequest release = {});
  // Drops one link of inode ino at its home (an entry removed elsewhere named it).
  Status DropLinkLocked(uint64_t ino, Metadata* after, uint8_t* reclaim);
  // Removes the chunks of an inode whose last link went, as reclaim (a removal's reply)
  // says: none (0), all (kReclaim), or those not at its home (kReclaimedHere).
  Status ReclaimLocked(const Metadata& md, uint8_t reclaim);
  // Rename's permission checks (search on both parents, the removal from the old one, the
  // addition or replacement in the new one); without credentials: OK.
  Status CheckRenameLocked(const std::string& old_path, const Metadata& md, const std::string& new_path);
  // Writes the chunks, then grows the size to offset + len (grow; in the same request when
  // the inode's home holds every piece).
  Status WriteChunksLocked(uint64_t file_id, uint64_t offset, const void* buf, size_t len, bool grow);
  Status TruncateLocked(const rpc::Target& target, uint64_t size);
  // Routing::by_path: the data of path go whole to its entry's daemon, which keeps the size
  // (append: *offset where the bytes went, chosen there).
  Status WriteWhole(const std::string& path, uint64_t offset, const void* buf, size_t len, bool append,
                    uint64_t* where);
  Status ReadWhole(const std::string& path, uint64_t offset, void* buf, size_t len, size_t* nread);
  // Routing::by_path: rename(2) on the daemons' store, one request.
  Status RenameByPathLocked(const std::string& old_path, const std::string& new_path);
  Status SetAttrLocked(const rpc::Target& target, int64_t mode, int64_t atime_ns, int64_t mtime_ns,
                       int64_t uid, int64_t gid);
  // Sends `verb` with body to every daemon in `targets` (all when empty).
  Status Broadcast(rpc::Verb verb, const std::string& body, const std::vector<uint32_t>& targets);
  std::vector<uint32_t> ChunkOwners(uint64_t file_id, uint64_t size) const;
  // The entries of the subtree at top (which names md), parents before children: each path,
  // the inode it names, its type; top first.
  Status SubtreeLocked(const std::string& top, const Metadata& md, std::vector<rpc::PutEntryRequest>* tree);
  // touches: the parents' TouchDir calls, sent with the last step.
  Status RenameDirectoryLocked(const std::string& old_path, const Metadata& md, const std::string& new_path,
                               std::vector<transport::Call> touches);
  Status RenameFileLocked(const std::string& old_path, const Metadata& md, const std::string& new_path,
                          std::vector<transport::Call> touches);
  // The last step of a rename: drops the old names (entries only), the touches, the moved
  // inode's ctime; then the link of what new_path named before (replaced_ino, 0: none).
  Status FinishRenameLocked(std::vector<transport::Call> last, uint64_t moved_ino, uint64_t replaced_ino);
  // The call that sets an inode's ctime to now (a renamed or exchanged inode).
  transport::Call CtimeCall(uint64_t ino);
  // Runs calls in groups of at most kParallelCalls; the first error, if any.
  Status RunAll(std::vector<transport::Call>& calls);

  // Durability (client_sync.cpp). The daemon whose metadata log holds the record of the
  // file at path (file_id as given to Sync): today its path's owner. The one place to
  // re-point when records are addressed by inode id.
  uint32_t SyncMetadataOwner(const std::string& path, uint64_t file_id);
  // Sends requests[i] to daemon daemons[i], again until each is done (a daemon out of its
  // time budget is asked again with its epoch); (*calls)[i] ends as the last call to it.
  // The first error.
  Status RunSyncCalls(const std::vector<uint32_t>& daemons, std::vector<rpc::SyncRequest>& requests,
                      std::vector<transport::Call>* calls);
  // Whether a failed chunk sync on `daemon` can be ignored: it holds no chunk of the file
  // (a lookup of its size, so only on failure).
  bool HoldsNoChunks(uint32_t daemon, const std::string& path, uint64_t file_id);

  // Transports of concurrent calls: calls of up to this many threads are in flight at once.
  static constexpr size_t kMaxTransports = 8;

  std::vector<HostEntry> hosts_;
  const std::unique_ptr<Routing> routing_;
  FsConfig config_;
  transport::TransportPool transports_;
  const Credentials* credentials_ = nullptr;                // not owned; may be null
  DirectPfs direct_;                                        // calls to Routing::kDirect
  std::unique_ptr<SessionLeases> leases_;  // null: the caller renews; destroyed first
};

int64_t NowNs();
// The call's error, else the record in its RecordReply (the forwarding daemon's Stat).
Status DecodeRecord(const transport::Call& call, Metadata* md);
// The call's error, else its CreateReply; *created (may be null) whether the call made it.
Status DecodeCreate(const transport::Call& call, Metadata* md, bool* created, uint64_t* remote_ino = nullptr);
// A Create request by the caller's effective ids.
rpc::CreateRequest CreateBody(const std::string& path, uint32_t mode, bool exclusive,
                              const std::string& link_target = "");
// The status of the first call that failed, or OK.
Status FirstError(const std::vector<transport::Call>& calls);

}  // namespace gkfs
