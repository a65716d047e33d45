#include "daemon/data_provider.h"

#include "common/clock.h"
#include "common/hex.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace gkfs {
namespace {

Status Errno(int err, const std::string& what) { return Status::Error(err, what + ": " + strerror(err)); }

// Full pwrite/pread that retry on short counts and EINTR.
bool WriteAll(int fd, const char* p, size_t n, off_t off) {
  while (n > 0) {
    ssize_t w = pwrite(fd, p, n, off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= w;
    off += w;
  }
  return true;
}

ssize_t ReadUpTo(int fd, char* p, size_t n, off_t off) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = pread(fd, p + done, n - done, off + done);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -1;
    if (r == 0) break;
    done += r;
  }
  return static_cast<ssize_t>(done);
}

}  // namespace

DataProvider::DataProvider(std::string rootdir, uint64_t chunk_size, bool track_syncs,
                           size_t max_tracked_chunks)
    : chunk_dir_(std::move(rootdir) + "/chunks"),
      chunk_size_(chunk_size),
      track_syncs_(track_syncs),
      dirty_(max_tracked_chunks) {}

Status DataProvider::Init() {
  if (mkdir(chunk_dir_.c_str(), 0700) != 0) {
    if (errno != EEXIST) return Errno(errno, "cannot create chunk directory '" + chunk_dir_ + "'");
    dirty_.SetOverflow();  // a restart: what did the last run leave unsynced?
    counting_.store(true);
    RefreshBytesUsed();  // what the last run left
    return Status::OK();
  }
  if (!track_syncs_) return Status::OK();
  // The new directory's own name, so that synced chunk files are never orphaned by a crash.
  return SyncPath(chunk_dir_.substr(0, chunk_dir_.rfind('/')), false, true);
}

std::string DataProvider::FileDir(uint64_t file_id) const {
  std::string dir;
  dir.reserve(chunk_dir_.size() + 17);
  dir += chunk_dir_;
  dir += '/';
  AppendHex16(&dir, file_id);
  return dir;
}

Status DataProvider::CheckPieces(const std::vector<rpc::Piece>& pieces) const {
  for (const auto& p : pieces) {
    if (static_cast<uint64_t>(p.offset) + p.length > chunk_size_) {
      return Status::Error(EINVAL, "chunk piece crosses the chunk boundary");
    }
  }
  return Status::OK();
}

Status DataProvider::Write(uint64_t file_id, const std::vector<rpc::Piece>& pieces, std::string_view payload) {
  std::shared_lock<std::shared_mutex> lock(LockFor(file_id));

  Status s = CheckPieces(pieces);
  if (!s.ok()) return s;
  uint64_t total = 0;
  for (const auto& p : pieces) total += p.length;
  if (total != payload.size()) return Status::Error(EINVAL, "write payload size does not match its pieces");
  const std::string dir = FileDir(file_id);
  const char* src = payload.data();
  std::vector<uint64_t> written;
  bool created_file = false, created_dir = false;
  for (const auto& p : pieces) {
    std::string path = dir + "/" + std::to_string(p.chunk_index);
    // Without O_CREAT first: a sync must know which directories got new entries.
    int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
      created_file = true;
      fd = open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
      if (fd < 0 && errno == ENOENT) {
        created_dir = true;
        if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
          s = Errno(errno, "mkdir " + dir);
          break;
        }
        fd = open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
      }
    }
    if (fd < 0) {
      s = Errno(errno, "open chunk " + path);
      break;
    }
    bool ok = WriteAll(fd, src, p.length, p.offset);
    int err = errno;
    close(fd);
    written.push_back(p.chunk_index);  // even a failed write may have left bytes to sync
    if (!ok) {
      s = Errno(err == 0 ? EIO : err, "write chunk " + path);
      break;
    }
    src += p.length;
    // "used" between counts: what was written since (overwrites count twice until the next
    // count, which also takes removals and truncations into account).
    bytes_used_.fetch_add(p.length, std::memory_order_relaxed);
  }
  NoteDirty(file_id, written, created_file, created_dir);
  return s;
}

Status DataProvider::Read(uint64_t file_id, const std::vector<rpc::Piece>& pieces,
                          std::vector<uint32_t>* lengths, Buffer* out, size_t* out_size) {
  std::shared_lock<std::shared_mutex> lock(LockFor(file_id));
  Status s = CheckPieces(pieces);
  if (!s.ok()) return s;
  uint64_t total = 0;
  for (const auto& p : pieces) total += p.length;
  *out = Buffer(total);
  lengths->assign(pieces.size(), 0);
  auto path = [&](uint64_t chunk) { return FileDir(file_id) + "/" + std::to_string(chunk); };
  size_t pos = 0;
  for (size_t i = 0; i < pieces.size(); ++i) {
    const auto& p = pieces[i];
    int fd = read_fds_.Acquire(file_id, p.chunk_index, [&] { return path(p.chunk_index); });
    if (fd < 0) {
      if (errno == ENOENT) continue;  // a hole
      return Errno(errno, "open chunk " + path(p.chunk_index));
    }
    ssize_t n = ReadUpTo(fd, out->data() + pos, p.length, p.offset);
    int err = errno;
    read_fds_.Release(file_id, p.chunk_index, fd);
    if (n < 0) return Errno(err, "read chunk " + path(p.chunk_index));
    (*lengths)[i] = static_cast<uint32_t>(n);
    pos += n;
  }
  *out_size = pos;
  return Status::OK();
}

Status DataProvider::Truncate(uint64_t file_id, uint64_t size) {
  std::unique_lock<std::shared_mutex> lock(LockFor(file_id));
  return TruncateLocked(file_id, size);
}

Status DataProvider::TruncateLocked(uint64_t file_id, uint64_t size) {
  read_fds_.Drop(file_id);  // chunk files may be unlinked below, and made anew by writes
  const std::string dir = FileDir(file_id);
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return errno == ENOENT ? Status::OK() : Errno(errno, "opendir " + dir);
  Status result;
  std::vector<uint64_t> truncated;
  bool unlinked = false;
  while (struct dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    uint64_t index = strtoull(e->d_name, nullptr, 10);
    std::string path = dir + "/" + e->d_name;
    uint64_t start = index * chunk_size_;
    if (start >= size) {
      if (unlink(path.c_str()) != 0 && errno != ENOENT) result = Errno(errno, "unlink " + path);
      unlinked = true;
    } else if (size - start < chunk_size_) {
      if (truncate(path.c_str(), static_cast<off_t>(size - start)) != 0) result = Errno(errno, "truncate " + path);
      truncated.push_back(index);
    }
  }
  closedir(d);
  // A shrunk file must not grow back with old bytes after a crash: its next sync covers this.
  NoteDirty(file_id, truncated, unlinked, false);
  return result;
}

Status DataProvider::Remove(uint64_t file_id) {
  std::unique_lock<std::shared_mutex> lock(LockFor(file_id));
  Status s = TruncateLocked(file_id, 0);
  if (!s.ok()) return s;
  const std::string dir = FileDir(file_id);
  if (rmdir(dir.c_str()) != 0 && errno != ENOENT) return Errno(errno, "rmdir " + dir);
  if (track_syncs_) dirty_.Forget(file_id);
  return Status::OK();
}


void DataProvider::RefreshBytesUsed() {
  bytes_used_.store(CountBytesUsed(), std::memory_order_relaxed);
  bytes_counted_ns_.store(MonotonicNs(), std::memory_order_relaxed);
  counting_.store(false, std::memory_order_release);
}

bool DataProvider::NeedsRefresh() {
  if (MonotonicNs() - bytes_counted_ns_.load(std::memory_order_relaxed) < kBytesUsedMaxAgeNs) return false;
  bool idle = false;
  return counting_.compare_exchange_strong(idle, true, std::memory_order_acq_rel);
}

uint64_t DataProvider::CountBytesUsed() const {
  uint64_t total = 0;
  DIR* top = opendir(chunk_dir_.c_str());
  if (top == nullptr) return 0;
  while (struct dirent* f = readdir(top)) {
    if (f->d_name[0] == '.') continue;
    std::string dir = chunk_dir_ + "/" + f->d_name;
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) continue;
    while (struct dirent* c = readdir(d)) {
      struct stat st;
      if (c->d_name[0] != '.' && stat((dir + "/" + c->d_name).c_str(), &st) == 0) {
        total += static_cast<uint64_t>(st.st_blocks) * 512;
      }
    }
    closedir(d);
  }
  closedir(top);
  return total;
}

}  // namespace gkfs
