#include "common/forwarding_map.h"

#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/log.h"

namespace gkfs {

constexpr auto kMapPollInterval = std::chrono::milliseconds(200);

Status ParseForwardingMap(const std::string& path, std::map<std::string, uint32_t>* map) {
  std::ifstream in(path);
  if (!in) return Status::Error(ENOENT, "cannot read forwarding map '" + path + "': " + strerror(errno));
  map->clear();
  std::string line;
  for (int lineno = 1; std::getline(in, line); ++lineno) {
    std::istringstream words(line.substr(0, line.find('#')));  // '#' starts a comment anywhere
    std::string host, index, extra;
    if (!(words >> host)) continue;
    char* end = nullptr;
    unsigned long value = (words >> index) ? strtoul(index.c_str(), &end, 10) : 0;
    std::string where = "forwarding map '" + path + "' line " + std::to_string(lineno) + ": ";
    bool direct = index == "direct";
    if (direct) value = kDirectIoNode;
    if (index.empty() || (!direct && (*end != '\0' || !isdigit(static_cast<unsigned char>(index[0])) ||
                                      value >= kDirectIoNode)) ||
        (words >> extra)) {
      return Status::Error(EINVAL, where + "expected 'hostname io_node_index' or 'hostname direct', got '" +
                                       line + "'");
    }
    if (!map->emplace(host, static_cast<uint32_t>(value)).second) {
      return Status::Error(EINVAL, where + "host '" + host + "' is listed twice");
    }
  }
  return Status::OK();
}

Status ForwardingMap::Load() {
  std::map<std::string, uint32_t> map;
  Status s = ParseForwardingMap(path_, &map);
  if (!s.ok()) return s;
  // GekkoFWD looks up the short name (up to the first '.'); a map of full names works too.
  auto it = map.find(host_.substr(0, host_.find('.')));
  if (it == map.end()) it = map.find(host_);
  if (it == map.end()) {
    return Status::Error(EINVAL, "forwarding map '" + path_ + "' has no line for host '" + host_ + "'");
  }
  if (it->second != kDirectIoNode && it->second >= num_daemons_) {
    return Status::Error(EINVAL, "forwarding map '" + path_ + "' sends host '" + host_ + "' to I/O node " +
                                     std::to_string(it->second) + ", but the hosts file lists " +
                                     std::to_string(num_daemons_) + " daemons");
  }
  index_ = it->second;
  loaded_ = true;
  return Status::OK();
}

Status ForwardingMap::IoNode(uint32_t* index) {
  auto now = std::chrono::steady_clock::now();
  if (!loaded_ || now >= next_check_) {
    next_check_ = now + kMapPollInterval;
    struct stat st {};
    bool changed = stat(path_.c_str(), &st) == 0 &&
                   (st.st_ino != inode_ || st.st_size != size_ || st.st_mtim.tv_sec != mtime_.tv_sec ||
                    st.st_mtim.tv_nsec != mtime_.tv_nsec);
    if (!loaded_ || changed) {
      Status s = Load();
      if (!s.ok() && !loaded_) return s;
      // A bad version is remembered too: it is read (and logged) again only once it changes.
      inode_ = st.st_ino;
      size_ = st.st_size;
      mtime_ = st.st_mtim;
      if (!s.ok()) GKFS_LOG(kError, "keeping the previous forwarding mapping: " + s.message());
    }
  }
  *index = index_;
  return Status::OK();
}

}  // namespace gkfs
