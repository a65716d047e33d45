#include "daemon/forwarding/pfs_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstring>
#include <vector>

#include "common/clock.h"

namespace gkfs {
namespace {

Status Errno(int err, const std::string& what) { return Status::Error(err, what + ": " + strerror(err)); }

}  // namespace

PfsFiles::PfsFiles(size_t capacity) : capacity_(capacity), revalidator_([this] { RevalidateLoop(); }) {}

PfsFiles::~PfsFiles() {
  {
    std::lock_guard<std::mutex> l(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  revalidator_.join();
}

void PfsFiles::RevalidateLoop() {
  const auto period = std::chrono::duration<double>(kPfsRevalidateSeconds);
  std::unique_lock<std::mutex> l(stop_mu_);
  while (!stop_cv_.wait_for(l, period, [this] { return stop_; })) {
    l.unlock();
    Revalidate(MonotonicNs() / 1e9);
    l.lock();
  }
}

PfsFiles::File::~File() {
  close(fd);
  if (direct_fd_ >= 0) close(direct_fd_);
}

int PfsFiles::File::DirectFd() {
  std::lock_guard<std::mutex> l(direct_mu_);
  if (direct_fd_ < 0 && !direct_refused_ && writable) {
    const std::string self = "/proc/self/fd/" + std::to_string(fd);
    direct_fd_ = open(self.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC);
    direct_refused_ = direct_fd_ < 0;
  }
  return direct_refused_ ? -1 : direct_fd_;
}

void PfsFiles::File::RefuseDirect() {
  std::lock_guard<std::mutex> l(direct_mu_);
  direct_refused_ = true;  // the descriptor stays open until ~File: another write may use it
}

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
  const double now = MonotonicNs() / 1e9;
  struct stat st;
  if (stat(real.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR) Forget(real);  // removed behind the cache
    return Errno(err, "stat " + name);
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = by_path_.find(real);
    if (it != by_path_.end()) {
      const File& f = *it->second->file;
      if (f.dev == st.st_dev && f.ino == st.st_ino && (f.writable || !write)) {
        it->second->checked = now;
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
  lru_.push_front({real, file, now});
  by_path_[real] = lru_.begin();
  while (lru_.size() > capacity_) Erase(std::prev(lru_.end()));
  *out = std::move(file);
  return Status::OK();
}

void PfsFiles::Revalidate(double now) {
  std::vector<std::shared_ptr<File>> idle;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (auto it = lru_.rbegin(); it != lru_.rend() && idle.size() < kPfsRevalidateBatch; ++it) {
      if (now - it->checked < kPfsRevalidateSeconds) continue;  // seen still named since the last pass
      it->checked = now;
      idle.push_back(it->file);
    }
  }
  std::vector<const File*> removed;
  for (const auto& file : idle) {  // outside the lock: an fstat may ask a PFS server
    struct stat st;
    if (fstat(file->fd, &st) == 0 && st.st_nlink == 0) removed.push_back(file.get());
  }
  if (removed.empty()) return;
  std::lock_guard<std::mutex> l(mu_);
  for (auto it = lru_.begin(); it != lru_.end();) {
    auto next = std::next(it);
    if (std::find(removed.begin(), removed.end(), it->file.get()) != removed.end()) Erase(it);
    it = next;
  }
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
