// NodeTable: the FUSE client's map from kernel node ids to gkfs paths. The core Client
// addresses names by path, the kernel by node id; a node keeps the inode id it was looked up
// with, so operations on an open file address the inode whatever happens to its names. Owns
// nothing but its maps; every method is thread-safe (one mutex).
//
// Node 1 is the root ("/") and is never forgotten. A path names at most one node; a node
// whose name went (unlink, rmdir, a rename over it) keeps its inode id with an empty path
// until the kernel forgets it.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace gkfs::fuse {

class NodeTable {
 public:
  static constexpr uint64_t kRoot = 1;
  explicit NodeTable(uint64_t root_ino);

  // The node of `path` (inode `ino`), created if new or if path now names another inode;
  // its lookup count grows by one (the kernel's nlookup).
  uint64_t Remember(const std::string& path, uint64_t ino);
  // False for an unknown node. *path is empty for a node whose name went.
  bool Get(uint64_t node, std::string* path, uint64_t* ino) const;
  // The kernel dropped n lookups of node; at zero the node goes.
  void Forget(uint64_t node, uint64_t n);
  // `path` no longer names anything (unlink, rmdir).
  void Unlinked(const std::string& path);
  // `from` (and everything under it) is now called `to`; a node that `to` named loses its name.
  void Renamed(const std::string& from, const std::string& to);
  // a and b (and everything under each) swapped names (RENAME_EXCHANGE).
  void Exchanged(const std::string& a, const std::string& b);
  size_t TEST_Size() const;

 private:
  struct Node {
    std::string path;
    uint64_t ino = 0;
    uint64_t nlookup = 0;
  };
  void DetachLocked(const std::string& path);
  using Moves = std::vector<std::pair<std::string, uint64_t>>;
  // Takes the nodes at `from` and under it out of by_path_: their paths under `to`.
  Moves TakeSubtreeLocked(const std::string& from, const std::string& to);
  void PlaceLocked(const Moves& moves);

  mutable std::mutex mu_;
  std::unordered_map<uint64_t, Node> nodes_;            // GUARDED_BY(mu_)
  std::unordered_map<std::string, uint64_t> by_path_;  // GUARDED_BY(mu_)
  uint64_t next_ = kRoot + 1;                          // GUARDED_BY(mu_)
};

// parent + "/" + name for an internal path ("/" + name under the root).
std::string ChildPath(const std::string& parent, const char* name);

}  // namespace gkfs::fuse
