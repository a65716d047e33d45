// PfsStore: the file operations of a forwarding daemon, executed on ordinary files under
// the PFS directory it was given (same names as the application used; no chunks: the PFS
// stripes them). Owns the directory's cache of open descriptors (PfsFiles); thread-safe.
#pragma once

#include <sys/uio.h>

#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/pfs_layout.h"
#include "daemon/forwarding/pfs_files.h"
#include "gkfs/metadata.h"
#include "gkfs/status.h"
#include "rpc/schema.h"

namespace gkfs {

// Offsets, lengths and buffers of O_DIRECT writes are multiples of this (the logical block
// size of the file systems a PFS client uses, or a multiple of it).
constexpr size_t kDirectIoAlign = 4096;

class PfsStore {
 public:
  // direct_io: write units whose offset and length are multiples of kDirectIoAlign with
  // O_DIRECT (DaemonOptions::pfs_direct_io).
  explicit PfsStore(std::string pfs_dir, bool direct_io = false)
      : root_(std::move(pfs_dir)), direct_io_(direct_io) {}
  // REQUIRES for every path argument: a normalised absolute path ("/", "/a/b"); anything
  // else (".." components, "//") is EINVAL, so no request can leave the PFS directory.
  Status Create(const rpc::CreateRequest& req, Metadata* md, bool* created);
  Status Stat(const std::string& path, Metadata* md);
  Status Remove(const std::string& path, uint8_t kind, Metadata* removed);
  Status Truncate(const std::string& path, uint64_t size);
  Status SetAttr(const rpc::SetAttrRequest& req);
  Status Rename(const std::string& old_path, const std::string& new_path);
  // link(2): new_path becomes another name of the file at old_path; *md is its record after.
  Status Link(const std::string& old_path, const std::string& new_path, Metadata* md);
  Status ReadDir(const std::string& dir, const std::string& start_after, uint32_t max,
                 std::vector<rpc::DirEntryWire>* entries, bool* end);
  // One positioned vector write/read of the whole iov at offset (the merged unit), through
  // the file's cached descriptor (a write with direct_io and aligned: from an aligned copy
  // through its O_DIRECT descriptor, or the page cache where the file system refuses it).
  Status WriteV(const std::string& path, uint64_t offset, const std::vector<struct iovec>& iov);
  Status ReadV(const std::string& path, uint64_t offset, const std::vector<struct iovec>& iov, size_t* nread);
  // O_APPEND write; *offset is where the bytes went.
  Status Append(const std::string& path, const void* data, size_t len, uint64_t* offset);
  // fsync(2) (fdatasync with datasync) of the file or directory at path, on the descriptor
  // the writes used; every write already acknowledged has completed, so it is covered.
  Status Sync(const std::string& path, bool datasync);
  // syncfs(2) of the PFS directory's file system.
  Status SyncAll();
  // The PFS target (server) holding byte `offset` of the file (pfs_layout.h), for TWINS.
  // A hint: layouts are cached per path and a stale one only misplaces a window.
  uint32_t Target(const std::string& path, uint64_t offset);

 private:
  Status Resolve(const std::string& path, std::string* real) const;
  // *done false, with nothing written, when the unit is not aligned or the file system
  // refuses O_DIRECT: the caller writes through the page cache.
  static Status WriteDirect(PfsFiles::File& file, const std::string& path, uint64_t offset,
                            const std::vector<struct iovec>& iov, bool* done);
  // Drops what is cached about path (and, with tree, the paths below it).
  void Forget(const std::string& path, const std::string& real, bool tree);
  std::string root_;
  const bool direct_io_;
  PfsFiles files_;
  std::mutex layouts_mu_;
  std::unordered_map<std::string, PfsLayout> layouts_;  // GUARDED_BY(layouts_mu_), by path
};

}  // namespace gkfs
