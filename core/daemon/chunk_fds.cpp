#include "daemon/chunk_fds.h"

#include <fcntl.h>
#include <unistd.h>

namespace gkfs {

ChunkFds::~ChunkFds() {
  for (auto& [key, entry] : kept_) close(entry.fd);
}

int ChunkFds::Acquire(uint64_t file_id, uint64_t chunk, const std::function<std::string()>& path) {
  const Key key{file_id, chunk};
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = kept_.find(key);
    if (it != kept_.end()) {
      ++it->second.users;
      lru_.splice(lru_.begin(), lru_, it->second.lru);
      return it->second.fd;
    }
  }
  int fd = open(path().c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  std::lock_guard<std::mutex> l(mu_);
  auto [it, added] = kept_.try_emplace(key, Entry{fd, 1, lru_.end()});
  if (!added) {  // another reader kept one meanwhile: use that
    close(fd);
    ++it->second.users;
    return it->second.fd;
  }
  it->second.lru = lru_.insert(lru_.begin(), key);
  EvictLocked();
  return fd;
}

void ChunkFds::Release(uint64_t file_id, uint64_t chunk, int fd) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = kept_.find(Key{file_id, chunk});
  if (it == kept_.end() || it->second.fd != fd) {
    close(fd);  // evicted while in use: the last user closes it
    return;
  }
  --it->second.users;
  EvictLocked();
}

void ChunkFds::EvictLocked() {
  for (auto pos = lru_.end(); kept_.size() > capacity_ && pos != lru_.begin();) {
    --pos;
    auto it = kept_.find(*pos);
    if (it->second.users > 0) continue;
    close(it->second.fd);
    kept_.erase(it);
    pos = lru_.erase(pos);
  }
}

void ChunkFds::Drop(uint64_t file_id) {
  std::lock_guard<std::mutex> l(mu_);
  for (auto it = kept_.begin(); it != kept_.end();) {
    if (it->first.file_id != file_id) {
      ++it;
      continue;
    }
    close(it->second.fd);
    lru_.erase(it->second.lru);
    it = kept_.erase(it);
  }
}

size_t ChunkFds::TEST_kept() const {
  std::lock_guard<std::mutex> l(mu_);
  return kept_.size();
}

}  // namespace gkfs
