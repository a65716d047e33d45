#include "fuse/node_table.h"

#include <vector>

namespace gkfs::fuse {

NodeTable::NodeTable(uint64_t root_ino) {
  nodes_[kRoot] = Node{"/", root_ino, 1};
  by_path_["/"] = kRoot;
}

uint64_t NodeTable::Remember(const std::string& path, uint64_t ino) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = by_path_.find(path);
  if (it != by_path_.end()) {
    Node& node = nodes_[it->second];
    if (node.ino == ino || it->second == kRoot) {
      ++node.nlookup;
      return it->second;
    }
    DetachLocked(path);  // the name now belongs to another inode
  }
  uint64_t id = next_++;
  nodes_[id] = Node{path, ino, 1};
  by_path_[path] = id;
  return id;
}

bool NodeTable::Get(uint64_t node, std::string* path, uint64_t* ino) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = nodes_.find(node);
  if (it == nodes_.end()) return false;
  *path = it->second.path;
  *ino = it->second.ino;
  return true;
}

void NodeTable::Forget(uint64_t node, uint64_t n) {
  if (node == kRoot) return;
  std::lock_guard<std::mutex> l(mu_);
  auto it = nodes_.find(node);
  if (it == nodes_.end()) return;
  if (it->second.nlookup > n) {
    it->second.nlookup -= n;
    return;
  }
  if (!it->second.path.empty()) by_path_.erase(it->second.path);
  nodes_.erase(it);
}

void NodeTable::Unlinked(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  DetachLocked(path);
}

void NodeTable::DetachLocked(const std::string& path) {
  auto it = by_path_.find(path);
  if (it == by_path_.end() || it->second == kRoot) return;
  nodes_[it->second].path.clear();
  by_path_.erase(it);
}

void NodeTable::Renamed(const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> l(mu_);
  if (from == to) return;
  DetachLocked(to);
  PlaceLocked(TakeSubtreeLocked(from, to));
}

void NodeTable::Exchanged(const std::string& a, const std::string& b) {
  std::lock_guard<std::mutex> l(mu_);
  if (a == b) return;
  Moves to_b = TakeSubtreeLocked(a, b);
  Moves to_a = TakeSubtreeLocked(b, a);
  PlaceLocked(to_b);
  PlaceLocked(to_a);
}

NodeTable::Moves NodeTable::TakeSubtreeLocked(const std::string& from, const std::string& to) {
  const std::string prefix = from + "/";
  Moves moved;
  for (auto it = by_path_.begin(); it != by_path_.end();) {
    const std::string& p = it->first;
    if (p == from || p.compare(0, prefix.size(), prefix) == 0) {
      moved.emplace_back(to + p.substr(from.size()), it->second);
      it = by_path_.erase(it);
    } else {
      ++it;
    }
  }
  return moved;
}

void NodeTable::PlaceLocked(const Moves& moves) {
  for (auto& [path, id] : moves) {
    nodes_[id].path = path;
    by_path_[path] = id;
  }
}

size_t NodeTable::TEST_Size() const {
  std::lock_guard<std::mutex> l(mu_);
  return nodes_.size();
}

std::string ChildPath(const std::string& parent, const char* name) {
  return parent == "/" ? "/" + std::string(name) : parent + "/" + name;
}

}  // namespace gkfs::fuse
