#include "daemon/forwarding/pfs_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace gkfs {
namespace {

Status Errno(int err, const std::string& what) { return Status::Error(err, what + ": " + strerror(err)); }

}  // namespace

PfsFiles::File::~File() { close(fd); }

Status PfsFiles::Open(const std::string& real, const std::string& name, bool write, std::shared_ptr<File>* out) {
  // Read-write when the file allows it, so one descriptor serves reads and writes; else
  // what the operation needs (a read-only file, a directory, a write-only file).
  int fd = open(real.c_str(), O_RDWR | O_CLOEXEC);
  bool writable = fd >= 0;
  if (fd < 0 && (errno == EACCES || errno == EISDIR || errno == EROFS)) {
    fd = open(real.c_str(), (write ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
    writable = write;
  }
  if (fd < 0) return Errno(errno, "open " + name);
  auto file = std::make_shared<File>(fd, writable);
  struct stat st;
  if (fstat(fd, &st) != 0) return Errno(errno, "stat " + name);
  file->dev = st.st_dev;
  file->ino = st.st_ino;
  *out = std::move(file);
  return Status::OK();
}

Status PfsFiles::Get(const std::string& real, const std::string& name, bool write, std::shared_ptr<File>* out) {
  struct stat st;
  if (stat(real.c_str(), &st) != 0) return Errno(errno, "stat " + name);
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = by_path_.find(real);
    if (it != by_path_.end()) {
      const File& f = *it->second->file;
      if (f.dev == st.st_dev && f.ino == st.st_ino && (f.writable || !write)) {
        lru_.splice(lru_.begin(), lru_, it->second);
        *out = it->second->file;
        return Status::OK();
      }
      Erase(it->second);  // another file now has this name, or more access is needed
    }
  }
  std::shared_ptr<File> file;
  Status s = Open(real, name, write, &file);  // outside the lock: a slow PFS open blocks no one else
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> l(mu_);
  auto it = by_path_.find(real);
  if (it != by_path_.end()) Erase(it->second);
  lru_.push_front({real, file});
  by_path_[real] = lru_.begin();
  while (lru_.size() > capacity_) Erase(std::prev(lru_.end()));
  *out = std::move(file);
  return Status::OK();
}

void PfsFiles::Forget(const std::string& real, bool tree) {
  std::lock_guard<std::mutex> l(mu_);
  if (!tree) {
    auto it = by_path_.find(real);
    if (it != by_path_.end()) Erase(it->second);
    return;
  }
  const std::string below = real + "/";
  for (auto it = lru_.begin(); it != lru_.end();) {
    auto next = std::next(it);
    if (it->path == real || it->path.compare(0, below.size(), below) == 0) Erase(it);
    it = next;
  }
}

size_t PfsFiles::size() {
  std::lock_guard<std::mutex> l(mu_);
  return lru_.size();
}

void PfsFiles::Erase(std::list<Entry>::iterator it) {
  by_path_.erase(it->path);
  lru_.erase(it);
}

}  // namespace gkfs
