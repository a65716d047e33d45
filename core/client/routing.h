// Routing: how the one client maps a path, an inode and a file's data to daemons. Chosen at
// Connect, owned by the client, asked by every operation; the operations themselves are
// written once (client.cpp, client_dirs.cpp, client_data.cpp, client_sync.cpp).
//
//   HashRouting (normal mode): an entry lives on H(path) mod N, an inode at its home (the
//     id's top 16 bits), chunk i of file F on H(F, i) mod N; a listing asks every daemon.
//   IoNodeRouting (forwarding mode, GekkoFWD): everything goes to the I/O node the map
//     names for this host, re-read while the process runs; the I/O node's store is the PFS,
//     which knows files by name and keeps their data whole. A host the map sends `direct`
//     gets kDirect: the client runs the operation on the PFS directory itself (direct.h),
//     through the same handler table and PFS namespace as an I/O node.
//
// Thread-safe: any thread may ask at any time. IoNodeRouting's lookup is one atomic load
// unless the map's poll interval passed (then one thread re-checks the file).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/forwarding_map.h"
#include "common/placement.h"

namespace gkfs {

class Routing {
 public:
  // The "daemon" of an operation the client runs on the PFS itself (a host mapped direct).
  static constexpr uint32_t kDirect = kDirectIoNode;
  virtual ~Routing() = default;
  // The daemon that holds path's directory entry.
  virtual uint32_t EntryOwner(const std::string& path) = 0;
  // The daemon that holds inode ino (the root's: the owner of "/").
  virtual uint32_t InodeOwner(uint64_t ino) = 0;
  // The daemon that holds chunk `chunk` of file file_id.
  virtual uint32_t ChunkOwner(uint64_t file_id, uint64_t chunk) = 0;
  // The daemons that may hold part of a directory's entries or of a file's data: the
  // ones a listing, statfs and a file's sync ask (ascending).
  virtual std::vector<uint32_t> Sharers() = 0;
  // How many daemons Sharers() may name at most (chunk-owner sets as large as this are "all").
  virtual uint32_t sharer_count() const = 0;
  // Whether the daemons' store knows files by path (forwarding mode: the PFS), not by inode
  // id. Then an open file is addressed by its path; data go whole to the entry's daemon
  // (FwdWrite, FwdRead), which keeps the size; rename is one request (rename(2) there); a
  // hard link names its old path; there are no link or open counts to keep; and since
  // others see that store at once, an entry is added or removed only after the client's
  // permission checks, never undone afterwards.
  virtual bool by_path() const = 0;
};

class HashRouting : public Routing {
 public:
  explicit HashRouting(uint32_t num_daemons) : placement_(num_daemons) {}
  uint32_t EntryOwner(const std::string& path) override { return placement_.MetadataOwner(path); }
  uint32_t InodeOwner(uint64_t ino) override {
    return ino == kRootIno ? placement_.MetadataOwner("/") : InodeHome(ino);
  }
  uint32_t ChunkOwner(uint64_t file_id, uint64_t chunk) override { return placement_.ChunkOwner(file_id, chunk); }
  std::vector<uint32_t> Sharers() override;
  uint32_t sharer_count() const override { return placement_.num_daemons(); }
  bool by_path() const override { return false; }

 private:
  const Placement placement_;
};

class IoNodeRouting : public Routing {
 public:
  // REQUIRES: map.IoNode() succeeded once (Connect checks it, naming the file and line).
  explicit IoNodeRouting(ForwardingMap map);
  uint32_t EntryOwner(const std::string&) override { return IoNode(); }
  uint32_t InodeOwner(uint64_t) override { return IoNode(); }
  uint32_t ChunkOwner(uint64_t, uint64_t) override { return IoNode(); }
  std::vector<uint32_t> Sharers() override { return {IoNode()}; }
  uint32_t sharer_count() const override { return 1; }
  bool by_path() const override { return true; }
  // The I/O node of the next operation (kDirect: none). An operation already sent finishes
  // where it went.
  uint32_t IoNode();

 private:
  std::mutex map_mu_;
  ForwardingMap map_;                        // GUARDED_BY(map_mu_)
  std::atomic<uint32_t> current_{0};         // map_'s answer at the last check
  std::atomic<int64_t> next_check_ns_{0};    // steady clock; before it, current_ stands
};

}  // namespace gkfs
