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
  Status Create(const std::string& path, uint32_t mode, bool exclusive, Metadata* md) override;
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
  Status SetAttr(const std::string& path, int64_t mode, int64_t atime_ns, int64_t mtime_ns) override;
  Status StatFs(FsStats* stats) override;
  Status Ping(uint32_t daemon, const void* payload, size_t send_bytes, void* reply,
              size_t reply_bytes) override;
  Status Daemons(std::vector<DaemonInfo>* infos) override;
  Status IoNodeStatistics(uint32_t daemon, IoNodeStats* stats) override;

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
  transport::Call MetaCall(const std::string& path, rpc::Verb verb, std::string body);
  Status StatLocked(const std::string& path, Metadata* md);
  Status CreateLocked(const std::string& path, uint32_t mode, bool exclusive,
                      const std::string& link_target, Metadata* md);
  Status ReadDirLocked(const std::string& path, const std::string& start_after, size_t max_entries,
                       bool check_dir, std::vector<DirEntry>* entries, bool* end);
  Status WriteChunksLocked(uint64_t file_id, uint64_t offset, const void* buf, size_t len,
                           transport::Call* extra);
  // Sends `verb` with body to every daemon in `targets` (all when empty).
  Status Broadcast(rpc::Verb verb, const std::string& body, const std::vector<uint32_t>& targets);
  std::vector<uint32_t> ChunkOwners(uint64_t file_id, uint64_t size) const;
  Status RenameDirectoryLocked(const std::string& old_path, const Metadata& md, const std::string& new_path);
  // Runs calls in groups of at most kParallelCalls; the first error, if any.
  Status RunAll(std::vector<transport::Call>& calls);

  std::mutex mu_;
  std::vector<HostEntry> hosts_;
  Placement placement_;
  FsConfig config_;
  std::unique_ptr<transport::ClientTransport> transport_;  // GUARDED_BY(mu_)
};

int64_t NowNs();
// The status of the first call that failed, or OK.
Status FirstError(const std::vector<transport::Call>& calls);

}  // namespace gkfs
