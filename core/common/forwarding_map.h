// The forwarding map (GekkoFWD format): which I/O node serves each compute host.
//   line := hostname io_node_index        index into the daemons of the hosts file sorted by
//                                         (host name, uri), as GekkoFS orders them
//         | hostname "direct"             no I/O node: the host's client works on the PFS
//                                         directory itself (kDirectIoNode)
// Blank lines are ignored; '#' starts a comment, on a line of its own or after an entry. Writers replace the file atomically
// (write, then rename); ForwardingMap::Refresh notices the change.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "gkfs/status.h"

namespace gkfs {

// The index a `direct` line stands for (no daemon has it).
constexpr uint32_t kDirectIoNode = UINT32_MAX;

// EINVAL naming the file and line for a malformed line or a duplicate host.
Status ParseForwardingMap(const std::string& path, std::map<std::string, uint32_t>* map);

// The map as one client sees it. Not thread-safe (the client holds its lock).
class ForwardingMap {
 public:
  ForwardingMap(std::string path, std::string hostname, uint32_t num_daemons)
      : path_(std::move(path)), host_(std::move(hostname)), num_daemons_(num_daemons) {}
  // Re-reads the file if it changed (checked at most every poll interval, so no call
  // pays more than a stat(2) now and then). A broken new version keeps the old mapping and
  // is logged once. The host's line is found by its short name (up to the first '.'), else
  // by the full name. *index is kDirectIoNode for a `direct` line. ENOENT/EINVAL (naming the
  // file) only if no valid version was ever read.
  Status IoNode(uint32_t* index);
  const std::string& path() const { return path_; }
  // Until then IoNode() answers without looking at the file (the poll interval).
  std::chrono::steady_clock::time_point next_check() const { return next_check_; }

 private:
  Status Load();
  std::string path_, host_;
  uint32_t num_daemons_;
  bool loaded_ = false;
  uint32_t index_ = 0;
  ino_t inode_ = 0;
  struct timespec mtime_ {};
  off_t size_ = -1;
  std::chrono::steady_clock::time_point next_check_{};
};

}  // namespace gkfs
