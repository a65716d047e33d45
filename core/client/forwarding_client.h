// ForwardingClient: the client in forwarding mode (GekkoFWD). Every operation of this
// process goes, whole, to the one I/O node the forwarding map names for this host; the I/O
// node runs it on the PFS (no chunking, no placement). The map is re-checked while the
// process runs: an operation already sent finishes on the old I/O node, the next one goes
// to the new node. Thread-safe: its own operations are serialised on one mutex (mu_), the
// map has a lock of its own (ClientImpl's operations ask it through MetadataOwner).
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "client/client_impl.h"
#include "common/forwarding_map.h"

namespace gkfs {

class ForwardingClient : public ClientImpl {
 public:
  ForwardingClient(std::vector<HostEntry> hosts, std::unique_ptr<transport::ClientTransport> transport,
                   ForwardingMap map);
  // The I/O node for the next operation (valid map required). For tests and status.
  Status CurrentIoNode(uint32_t* index);

  Status Create(const std::string& path, uint32_t mode, bool exclusive, Metadata* md,
                bool* created) override;
  Status Remove(const std::string& path) override;
  Status Mkdir(const std::string& path, uint32_t mode) override;
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
  Status TruncateFile(const std::string& path, uint64_t file_id, uint64_t size) override;
  Status Link(const std::string& old_path, const std::string& new_path) override;
  Status Mknod(const std::string& path, uint32_t mode, uint64_t rdev) override;
  // Opens are not counted in forwarding mode: the I/O node addresses PFS files by name.
  Status OpenFile(const std::string& path, bool create, uint32_t mode, bool exclusive, uint64_t opener,
                  Metadata* md, bool* created) override;
  Status Release(uint64_t, const std::vector<uint64_t>&) override { return Status::OK(); }
  Status Renew(uint64_t, const std::vector<uint64_t>&) override { return Status::OK(); }
  Status StatFs(FsStats* stats) override;
  Status Sync(const std::string& path, uint64_t file_id, SyncLevel level) override;

 private:
  // Stat and SetAttr come from ClientImpl through this.
  uint32_t MetadataOwner(const std::string& path) override;
  // The PFS knows files by name: an open file is addressed by its path, at the I/O node.
  uint32_t InodeOwner(uint64_t) override { return MetadataOwner(""); }
  rpc::Target FileTarget(const std::string& path, uint64_t) override { return rpc::Target{path, 0}; }
  // The I/O node serves Create, Remove and TouchDir, not CreateInDir or RemoveInDir.
  bool OneOwnerWithParent(const std::string&, const std::string&) override { return false; }
  // One RPC to the current I/O node.
  Status CallIoNode(rpc::Verb verb, std::string body, transport::Call* call);
  Status CreateCall(const rpc::CreateRequest& req, Metadata* md, bool* created);
  // Remove (kind 1, not a directory) or Rmdir (kind 2) on the I/O node.
  Status RemoveKind(const std::string& path, uint8_t kind);
  Status ReadDirOnce(const std::string& path, const std::string& start_after, size_t max,
                     std::vector<DirEntry>* entries, bool* end);

  // The I/O node of the next operation (map_.IoNode under map_mu_).
  Status IoNode(uint32_t* index);

  std::mutex mu_;      // serialises this client's own operations
  std::mutex map_mu_;
  ForwardingMap map_;  // GUARDED_BY(map_mu_)
};

}  // namespace gkfs
