#include "common/hosts_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

namespace gkfs {
namespace {

bool IsIdentity(const std::string& word) {
  return word.size() == 16 && std::all_of(word.begin(), word.end(), [](char c) { return isxdigit(c); });
}

}  // namespace

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
    if (!(words >> e.host)) continue;
    if (e.host == kInstanceEnd) break;  // GekkoFS: the daemons of this instance end here
    if (e.host[0] == '#') continue;
    if (!(words >> e.uri) || e.uri.find("://") == std::string::npos) {
      return Status::Error(EINVAL, "hosts file '" + path + "' line " + std::to_string(lineno) +
                                       ": expected 'hostname uri [id]' (id: 16 hex digits), got '" +
                                       line + "'");
    }
    // A third field is gkfs's identity, or one of the fields GekkoFS versions add after
    // the uri (ignored, as are any further ones).
    if ((words >> e.id) && !IsIdentity(e.id)) e.id.clear();
    hosts->push_back(std::move(e));
  }
  if (hosts->empty()) {
    return Status::Error(EINVAL, "hosts file '" + path + "' lists no daemon");
  }
  const bool by_id = std::all_of(hosts->begin(), hosts->end(), [](const HostEntry& h) { return !h.id.empty(); });
  auto key = [by_id](const HostEntry& h) -> const std::string& { return by_id ? h.id : h.uri; };
  // A daemon listed again (restarted) counts once, by its last line: stable_sort keeps file
  // order among equal keys, so the last of each run is the newest.
  std::stable_sort(hosts->begin(), hosts->end(),
                   [&key](const HostEntry& a, const HostEntry& b) { return key(a) < key(b); });
  std::vector<HostEntry> unique;
  for (size_t i = 0; i < hosts->size(); ++i) {
    if (i + 1 < hosts->size() && key((*hosts)[i]) == key((*hosts)[i + 1])) continue;
    unique.push_back(std::move((*hosts)[i]));
  }
  *hosts = std::move(unique);
  return Status::OK();
}

Status AppendHostsFile(const std::string& path, const HostEntry& entry) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Status::Error(errno, "cannot open hosts file '" + path + "'");
  }
  flock(fd, LOCK_EX);
  std::string line = entry.host + " " + entry.uri + (entry.id.empty() ? "" : " " + entry.id) + "\n";
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

Status DaemonIdentity(const std::string& rootdir, std::string* id) {
  const std::string path = rootdir + "/identity";
  std::ifstream in(path);
  if (in) {
    if (!(in >> *id) || !IsIdentity(*id)) {
      return Status::Error(EINVAL, "'" + path + "' is not a daemon identity (16 hex digits): "
                                   "remove it only if this root directory holds no file system");
    }
    return Status::OK();
  }
  std::random_device random;
  uint64_t value = (static_cast<uint64_t>(random()) << 32) ^ random();
  char hex[17];
  snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(value));
  // O_EXCL: two daemons started on one root directory by mistake cannot both make one.
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Error(errno, "cannot create '" + path + "': " + strerror(errno));
  std::string line = std::string(hex) + "\n";
  bool written = write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && fsync(fd) == 0;
  int err = errno;
  close(fd);
  if (!written) return Status::Error(err, "cannot write '" + path + "'");
  *id = hex;
  return Status::OK();
}

}  // namespace gkfs
