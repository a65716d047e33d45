// ClientImpl: gkfs::Client over the UCX ClientTransport. Owns the transport; one mutex
// serialises all operations of a process on it (UCX worker in serialized mode).
// Metadata operations go to the path's owner; data operations send one request per
// target daemon (all in flight at once) plus the size update to the metadata owner.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/chunk.h"
#include "common/hosts_file.h"
#include "common/placement.h"
#include "gkfs/client.h"
#include "transport/client_transport.h"

namespace gkfs {

class ClientImpl : public Client {
 public:
  ClientImpl(std::vector<HostEntry> hosts, std::unique_ptr<transport::ClientTransport> transport);
  Status FetchConfig();

  const FsConfig& config() const override { return config_; }
  void SetCredentials(const Credentials* credentials) { credentials_ = credentials; }
  Status Create(const std::string& path, uint32_t mode, bool exclusive, Metadata* md,
                bool* created) override;
  Status Stat(const std::string& path, Metadata* md) override;
  Status Remove(const std::string& path) override;
  Status Mkdir(const std::string& path, uint32_t mode) override;
  Status Symlink(const std::string& path, const std::string& target) override;
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
  Status Rename(const std::string& old_path, const std::string& new_path) override;
  Status SetAttr(const std::string& path, int64_t mode, int64_t atime_ns, int64_t mtime_ns,
                 int64_t uid, int64_t gid) override;
  Status StatFs(FsStats* stats) override;
  Status Ping(uint32_t daemon, const void* payload, size_t send_bytes, void* reply,
              size_t reply_bytes) override;
  Status Daemons(std::vector<DaemonInfo>* infos) override;
  Status IoNodeStatistics(uint32_t daemon, IoNodeStats* stats) override;
  // client_sync.cpp
  Status Sync(const std::string& path, uint64_t file_id, SyncLevel level) override;
  Status SyncFs() override;

 protected:
  // Unlocked helpers. REQUIRES: mu_ held.
  Status CallOne(transport::Call* call);
  // Every RPC goes through here: asks daemons not yet asked for their shared-memory offer
  // (--auto-sm), then runs the calls.
  void RunCalls(const std::vector<transport::Call*>& calls);
  void ApplyIntroduction(uint32_t daemon, const transport::Call& fs_config);
  // The daemon that answers for path's metadata: its placement owner here; the I/O node in
  // forwarding mode.
  virtual uint32_t MetadataOwner(const std::string& path) { return placement_.MetadataOwner(path); }
  // Whether a create (removal) of path and the touch of its parent go as one CreateInDir
  // (RemoveInDir): one daemon owns both, so one round trip and one write.
  virtual bool OneOwnerWithParent(const std::string& path, const std::string& parent) {
    return MetadataOwner(path) == MetadataOwner(parent);
  }
  transport::Call MetaCall(const std::string& path, rpc::Verb verb, std::string body);
  Status StatLocked(const std::string& path, Metadata* md);
  Status CreateLocked(const std::string& path, uint32_t mode, bool exclusive,
                      const std::string& link_target, Metadata* md, bool* created);
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
  };
  transport::Call TouchCall(const std::string& dir);
  DirTouch DecodeTouch(const transport::Call& touch);
  static Status DecodeInDir(const transport::Call& call, DirTouch* dir, Metadata* md, bool* done);
  // Runs op beside the TouchDir of dir, in one round trip; the touch's outcome.
  DirTouch RunBesideTouch(transport::Call* op, const std::string& dir);
  // Appends the call that undoes a touch, if there was one.
  void AddUntouch(const std::string& dir, const DirTouch& touch, std::vector<transport::Call>* calls);
  // Whether directory permissions are checked: credentials set, caller not privileged.
  bool Checking() const;
  // EACCES without search permission on dir (not Checking(): OK).
  Status CheckSearch(const Metadata& dir) const;
  // Adding (entry null) or removing entry in dir: EACCES without write and search
  // permission, EPERM where the sticky bit protects entry.
  Status CheckModify(const Metadata& dir, const Metadata* entry) const;
  // Removes path's record (kind as rpc::RemoveRequest) beside the touch of its parent;
  // a removal the checks deny is put back.
  Status RemoveEntryLocked(const std::string& path, uint8_t kind, Metadata* removed);
  // Rename's permission checks (search on both parents, the removal from the old one, the
  // addition or replacement in the new one); without credentials: OK.
  Status CheckRenameLocked(const std::string& old_path, const Metadata& md, const std::string& new_path);
  Status WriteChunksLocked(uint64_t file_id, uint64_t offset, const void* buf, size_t len,
                           transport::Call* extra);
  // Sends `verb` with body to every daemon in `targets` (all when empty).
  Status Broadcast(rpc::Verb verb, const std::string& body, const std::vector<uint32_t>& targets);
  std::vector<uint32_t> ChunkOwners(uint64_t file_id, uint64_t size) const;
  // touches: the parents' TouchDir calls, sent with the last step.
  Status RenameDirectoryLocked(const std::string& old_path, const Metadata& md, const std::string& new_path,
                               std::vector<transport::Call> touches);
  Status RenameFileLocked(const std::string& old_path, const Metadata& md, const std::string& new_path,
                          std::vector<transport::Call> touches);
  // Runs calls in groups of at most kParallelCalls; the first error, if any.
  Status RunAll(std::vector<transport::Call>& calls);

  // Durability (client_sync.cpp). The daemon whose metadata log holds the record of the
  // file at path (file_id as given to Sync): today its path's owner. The one place to
  // re-point when records are addressed by inode id.
  uint32_t SyncMetadataOwner(const std::string& path, uint64_t file_id);
  // Sends requests[d] to daemon d, again until each is done (a daemon out of its time
  // budget is asked again with its epoch); (*calls)[d] ends as the last call to daemon d.
  // The first error. REQUIRES: mu_ held.
  Status RunSyncCalls(std::vector<rpc::SyncRequest>& requests, std::vector<transport::Call>* calls);
  // Whether a failed chunk sync on `daemon` can be ignored: it holds no chunk of the file
  // (a lookup of its size, so only on failure). REQUIRES: mu_ held.
  bool HoldsNoChunks(uint32_t daemon, const std::string& path, uint64_t file_id);

  std::mutex mu_;
  std::vector<HostEntry> hosts_;
  Placement placement_;
  FsConfig config_;
  std::unique_ptr<transport::ClientTransport> transport_;  // GUARDED_BY(mu_)
  const Credentials* credentials_ = nullptr;                // not owned; may be null
};

int64_t NowNs();
// The call's error, else the record in its RecordReply (Stat, Remove).
Status DecodeRecord(const transport::Call& call, Metadata* md);
// The call's error, else the record in its CreateReply; *created (may be null) whether the
// call made it.
Status DecodeCreate(const transport::Call& call, Metadata* md, bool* created);
// A Create request by the caller's effective ids.
rpc::CreateRequest CreateBody(const std::string& path, uint32_t mode, bool exclusive,
                              const std::string& link_target = "");
// The status of the first call that failed, or OK.
Status FirstError(const std::vector<transport::Call>& calls);

}  // namespace gkfs
