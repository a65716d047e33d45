// The hosts file (GekkoFS format): one daemon per line, "hostname uri", and gkfs daemons add
// their persistent identity: "hostname uri id" (16 hex digits, kept in the daemon's root
// directory). Blank lines and lines starting with '#' are ignored; a line
// "#FS_INSTANCE_END" (GekkoFS's marker) ends the list, and fields after the uri that are not
// an identity (other GekkoFS versions' extra fields) are ignored. The daemon order used by
// placement must not depend on which daemon registered first, nor on the ports of this run:
// when every line has an id, daemons are ordered by id and a daemon listed twice (restarted,
// maybe on another port) counts once, by its last line; otherwise (a GekkoFS hosts file)
// they are ordered by uri and a uri listed twice counts once.
#pragma once

#include <string>
#include <vector>

#include "gkfs/status.h"

namespace gkfs {

// The line that ends the daemons of a file system instance in a GekkoFS hosts file.
constexpr const char* kInstanceEnd = "#FS_INSTANCE_END";

struct HostEntry {
  std::string host;
  std::string uri;
  std::string id;  // the daemon's identity (16 hex digits); empty: none given
};

// ENOENT: missing file; EINVAL: empty or malformed (message names file and line).
Status ReadHostsFile(const std::string& path, std::vector<HostEntry>* hosts);
// Appends "host uri[ id]\n" with one O_APPEND write under flock.
Status AppendHostsFile(const std::string& path, const HostEntry& entry);
// The identity of the daemon whose root directory is rootdir: read from <rootdir>/identity,
// made (random, 16 hex digits) on first use.
Status DaemonIdentity(const std::string& rootdir, std::string* id);

}  // namespace gkfs
