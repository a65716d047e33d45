// The hosts file (GekkoFS format): one daemon per line, "hostname uri". Blank lines and
// lines starting with '#' are ignored. Order of lines is the daemon order used by
// placement, so it is sorted by uri on read: every client sees the same order no matter
// in which order the daemons appended themselves. A uri listed twice (a daemon restarted
// on its address) counts once.
#pragma once

#include <string>
#include <vector>

#include "gkfs/status.h"

namespace gkfs {

struct HostEntry {
  std::string host;
  std::string uri;
};

// ENOENT: missing file; EINVAL: empty or malformed (message names file and line).
Status ReadHostsFile(const std::string& path, std::vector<HostEntry>* hosts);
// Appends "host uri\n" with one O_APPEND write under flock.
Status AppendHostsFile(const std::string& path, const HostEntry& entry);

}  // namespace gkfs
