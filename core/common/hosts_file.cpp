#include "common/hosts_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace gkfs {

Status ReadHostsFile(const std::string& path, std::vector<HostEntry>* hosts) {
  std::ifstream in(path);
  if (!in) {
    return Status::Error(ENOENT, "cannot read hosts file '" + path + "': " + strerror(errno));
  }
  hosts->clear();
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    std::istringstream words(line);
    HostEntry e;
    if (!(words >> e.host) || e.host[0] == '#') continue;
    std::string extra;
    if (!(words >> e.uri) || (words >> extra) || e.uri.find("://") == std::string::npos) {
      return Status::Error(EINVAL, "hosts file '" + path + "' line " + std::to_string(lineno) +
                                       ": expected 'hostname uri', got '" + line + "'");
    }
    hosts->push_back(std::move(e));
  }
  if (hosts->empty()) {
    return Status::Error(EINVAL, "hosts file '" + path + "' lists no daemon");
  }
  std::sort(hosts->begin(), hosts->end(),
            [](const HostEntry& a, const HostEntry& b) { return a.uri < b.uri; });
  // A daemon restarted on its address appends its line again: one entry per uri.
  hosts->erase(std::unique(hosts->begin(), hosts->end(),
                           [](const HostEntry& a, const HostEntry& b) { return a.uri == b.uri; }),
               hosts->end());
  return Status::OK();
}

Status AppendHostsFile(const std::string& path, const HostEntry& entry) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Status::Error(errno, "cannot open hosts file '" + path + "'");
  }
  flock(fd, LOCK_EX);
  std::string line = entry.host + " " + entry.uri + "\n";
  ssize_t n = write(fd, line.data(), line.size());
  int err = errno;
  fsync(fd);
  flock(fd, LOCK_UN);
  close(fd);
  if (n != static_cast<ssize_t>(line.size())) {
    return Status::Error(n < 0 ? err : EIO, "cannot append to hosts file '" + path + "'");
  }
  return Status::OK();
}

}  // namespace gkfs
