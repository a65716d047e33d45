#include "daemon/forwarding/pfs_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "common/placement.h"

namespace gkfs {
namespace {

Status Errno(const std::string& what) {
  int err = errno;
  return Status::Error(err, what + ": " + strerror(err));
}

// Drops the first n bytes from iov[*index...] (after a partial pwritev/preadv).
void Advance(std::vector<struct iovec>& iov, size_t* index, size_t n) {
  while (n > 0 && *index < iov.size()) {
    size_t take = std::min(n, iov[*index].iov_len);
    iov[*index].iov_base = static_cast<char*>(iov[*index].iov_base) + take;
    iov[*index].iov_len -= take;
    n -= take;
    if (iov[*index].iov_len == 0) ++*index;
  }
}

int64_t Ns(const struct timespec& ts) { return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec; }

void FromStat(const struct stat& st, Metadata* md) {
  md->mode = st.st_mode;
  md->uid = st.st_uid;
  md->gid = st.st_gid;
  md->size = S_ISDIR(st.st_mode) ? 0 : static_cast<uint64_t>(st.st_size);
  md->file_id = static_cast<uint64_t>(st.st_ino) | (1ull << 63);  // the PFS's inode: st_ino
  md->nlink = static_cast<uint32_t>(st.st_nlink);
  md->rdev = st.st_rdev;
  md->atime_ns = Ns(st.st_atim);
  md->mtime_ns = Ns(st.st_mtim);
  md->ctime_ns = Ns(st.st_ctim);
}

bool IsNormalized(const std::string& path) {
  if (path.empty() || path[0] != '/') return false;
  if (path == "/") return true;
  if (path.back() == '/') return false;
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string_view part(path.data() + start, end - start);
    if (part.empty() || part == "." || part == ".." || part.size() > NAME_MAX) return false;
    start = end + 1;
  }
  return true;
}

}  // namespace

Status PfsStore::Resolve(const std::string& path, std::string* real) const {
  if (!IsNormalized(path)) return Status::Error(EINVAL, "path is not normalised: '" + path + "'");
  *real = path == "/" ? root_ : root_ + path;
  return Status::OK();
}

Status PfsStore::Stat(const std::string& path, Metadata* md) {
  std::string real;
  Status s = Resolve(path, &real);
  if (!s.ok()) return s;
  struct stat st;
  if (lstat(real.c_str(), &st) != 0) return Errno("stat " + path);
  FromStat(st, md);
  if (S_ISLNK(st.st_mode)) {
    char target[PATH_MAX];
    ssize_t n = readlink(real.c_str(), target, sizeof(target));
    if (n > 0) md->link_target.assign(target, n);
  }
  return Status::OK();
}

Status PfsStore::Create(const rpc::CreateRequest& req, Metadata* md, bool* created) {
  std::string real;
  Status s = Resolve(req.path, &real);
  if (!s.ok()) return s;
  int rc;
  if (S_ISDIR(req.mode)) {
    rc = mkdir(real.c_str(), req.mode & 07777);
    if (rc == 0) chmod(real.c_str(), req.mode & 07777);  // exactly the mode asked for, as files
  } else if (!req.link_target.empty()) {
    rc = symlink(req.link_target.c_str(), real.c_str());
  } else {
    rc = open(real.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, req.mode & 07777);
    if (rc >= 0) {
      fchmod(rc, req.mode & 07777);  // exactly the mode asked for, whatever our umask
      close(rc);
    }
  }
  if (rc < 0 && !(errno == EEXIST && !req.exclusive)) return Errno("create " + req.path);
  *created = rc >= 0;
  return Stat(req.path, md);
}

Status PfsStore::Remove(const std::string& path, uint8_t kind, Metadata* removed) {
  std::string real;
  Status s = Stat(path, removed);
  if (!s.ok() || !(s = Resolve(path, &real)).ok()) return s;
  if (kind == 1 && removed->is_dir()) return Status::Error(EISDIR, "is a directory");
  if (kind == 2 && !removed->is_dir()) return Status::Error(ENOTDIR, "not a directory");
  int rc = removed->is_dir() ? rmdir(real.c_str()) : unlink(real.c_str());
  if (rc != 0) return Errno("remove " + path);
  Forget(path, real, removed->is_dir());
  return Status::OK();
}

Status PfsStore::Truncate(const std::string& path, uint64_t size) {
  std::string real;
  Status s = Resolve(path, &real);
  if (!s.ok()) return s;
  return truncate(real.c_str(), static_cast<off_t>(size)) == 0 ? Status::OK() : Errno("truncate " + path);
}

Status PfsStore::SetAttr(const rpc::SetAttrRequest& req) {
  std::string real;
  Status s = Resolve(req.target.path, &real);
  if (!s.ok()) return s;
  if (req.mode >= 0 && chmod(real.c_str(), static_cast<mode_t>(req.mode & 07777)) != 0) {
    return Errno("chmod " + req.target.path);
  }
  if ((req.uid >= 0 || req.gid >= 0) &&
      lchown(real.c_str(), static_cast<uid_t>(req.uid), static_cast<gid_t>(req.gid)) != 0) {
    return Errno("chown " + req.target.path);
  }
  if (req.atime_ns >= 0 || req.mtime_ns >= 0) {
    struct timespec times[2];
    for (int i = 0; i < 2; ++i) {
      int64_t ns = i == 0 ? req.atime_ns : req.mtime_ns;
      times[i].tv_sec = ns >= 0 ? ns / 1000000000 : 0;
      times[i].tv_nsec = ns >= 0 ? ns % 1000000000 : UTIME_OMIT;
    }
    if (utimensat(AT_FDCWD, real.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) return Errno("utimens " + req.target.path);
  }
  return Status::OK();
}

Status PfsStore::Rename(const std::string& old_path, const std::string& new_path) {
  std::string from, to;
  Status s = Resolve(old_path, &from);
  if (s.ok()) s = Resolve(new_path, &to);
  if (!s.ok()) return s;
  if (rename(from.c_str(), to.c_str()) != 0) return Errno("rename " + old_path);
  Forget(old_path, from, true);
  Forget(new_path, to, true);
  return Status::OK();
}

Status PfsStore::Link(const std::string& old_path, const std::string& new_path, Metadata* md) {
  std::string from, to;
  Status s = Resolve(old_path, &from);
  if (s.ok()) s = Resolve(new_path, &to);
  if (!s.ok()) return s;
  if (link(from.c_str(), to.c_str()) != 0) return Errno("link " + old_path);
  return Stat(new_path, md);
}

Status PfsStore::ReadDir(const std::string& dir, const std::string& start_after, uint32_t max,
                         std::vector<rpc::DirEntryWire>* entries, bool* end) {
  std::string real;
  Status s = Resolve(dir, &real);
  if (!s.ok()) return s;
  DIR* d = opendir(real.c_str());
  if (d == nullptr) return Errno("opendir " + dir);
  std::vector<rpc::DirEntryWire> all;
  while (struct dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == ".." || name <= start_after) continue;
    uint8_t type = e->d_type;
    struct stat st;
    if (type == DT_UNKNOWN && fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
      type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISLNK(st.st_mode) ? DT_LNK : DT_REG;
    }
    all.push_back({std::move(name), type});
  }
  closedir(d);
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  *end = all.size() <= max;
  if (!*end) all.resize(max);
  *entries = std::move(all);
  return Status::OK();
}

Status PfsStore::WriteV(const std::string& path, uint64_t offset, const std::vector<struct iovec>& iov) {
  std::string real;
  Status s = Resolve(path, &real);
  std::shared_ptr<PfsFiles::File> file;
  if (!s.ok() || !(s = files_.Get(real, path, true, &file)).ok()) return s;
  bool done = false;
  if (direct_io_ && (!(s = WriteDirect(*file, path, offset, iov, &done)).ok() || done)) return s;
  std::vector<struct iovec> left = iov;
  size_t index = 0;
  off_t pos = static_cast<off_t>(offset);
  while (index < left.size()) {
    int count = static_cast<int>(std::min<size_t>(left.size() - index, IOV_MAX));
    ssize_t n = pwritev(file->fd, left.data() + index, count, pos);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      s = n < 0 ? Errno("write " + path) : Status::Error(EIO, "short write to " + path);
      break;
    }
    pos += n;
    Advance(left, &index, static_cast<size_t>(n));
  }
  return s;
}

Status PfsStore::WriteDirect(PfsFiles::File& file, const std::string& path, uint64_t offset,
                             const std::vector<struct iovec>& iov, bool* done) {
  size_t total = 0;
  for (const auto& v : iov) total += v.iov_len;
  *done = false;
  if (offset % kDirectIoAlign != 0 || total % kDirectIoAlign != 0 || total == 0) return Status::OK();
  int fd = file.DirectFd();
  if (fd < 0) return Status::OK();
  void* raw = nullptr;
  if (posix_memalign(&raw, kDirectIoAlign, total) != 0) return Status::OK();
  std::unique_ptr<char, decltype(&free)> buf(static_cast<char*>(raw), &free);
  size_t at = 0;
  for (const auto& v : iov) {
    memcpy(buf.get() + at, v.iov_base, v.iov_len);
    at += v.iov_len;
  }
  size_t written = 0;
  while (written < total) {
    ssize_t n = pwrite(fd, buf.get() + written, total - written, static_cast<off_t>(offset + written));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EINVAL && written == 0) {  // refused after all (alignment, fs)
      file.RefuseDirect();
      return Status::OK();
    }
    if (n <= 0 && written > 0) break;  // after a short write the rest is unaligned
    if (n <= 0) {
      *done = true;
      return n < 0 ? Errno("write " + path) : Status::Error(EIO, "short write to " + path);
    }
    written += static_cast<size_t>(n);
  }
  // What a short direct write left goes through the page-cache descriptor.
  for (size_t at_rest = written; at_rest < total;) {
    ssize_t n = pwrite(file.fd, buf.get() + at_rest, total - at_rest, static_cast<off_t>(offset + at_rest));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *done = true;
      return n < 0 ? Errno("write " + path) : Status::Error(EIO, "short write to " + path);
    }
    at_rest += static_cast<size_t>(n);
  }
  *done = true;
  return Status::OK();
}

Status PfsStore::ReadV(const std::string& path, uint64_t offset, const std::vector<struct iovec>& iov,
                       size_t* nread) {
  std::string real;
  Status s = Resolve(path, &real);
  std::shared_ptr<PfsFiles::File> file;
  if (!s.ok() || !(s = files_.Get(real, path, false, &file)).ok()) return s;
  std::vector<struct iovec> left = iov;
  size_t index = 0;
  *nread = 0;
  while (index < left.size()) {
    int count = static_cast<int>(std::min<size_t>(left.size() - index, IOV_MAX));
    ssize_t n = preadv(file->fd, left.data() + index, count, static_cast<off_t>(offset + *nread));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      s = Errno("read " + path);
      break;
    }
    if (n == 0) break;  // end of file
    *nread += n;
    Advance(left, &index, static_cast<size_t>(n));
  }
  return s;
}

Status PfsStore::Append(const std::string& path, const void* data, size_t len, uint64_t* offset) {
  std::string real;
  Status s = Resolve(path, &real);
  if (!s.ok()) return s;
  int fd = open(real.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return Errno("open " + path);
  // The kernel picks the offset atomically; lseek after the write tells where it went.
  ssize_t n = write(fd, data, len);
  if (n == static_cast<ssize_t>(len)) {
    *offset = static_cast<uint64_t>(lseek(fd, 0, SEEK_CUR)) - len;
  } else {
    s = n < 0 ? Errno("append " + path) : Status::Error(EIO, "short append to " + path);
  }
  close(fd);
  return s;
}

Status PfsStore::Sync(const std::string& path, bool datasync) {
  std::string real;
  Status s = Resolve(path, &real);
  std::shared_ptr<PfsFiles::File> file;
  if (!s.ok() || !(s = files_.Get(real, path, false, &file)).ok()) return s;
  if ((datasync ? fdatasync(file->fd) : fsync(file->fd)) != 0) {
    s = Errno((datasync ? "fdatasync " : "fsync ") + path);
  }
  return s;
}

void PfsStore::Forget(const std::string& path, const std::string& real, bool tree) {
  files_.Forget(real, tree);
  std::lock_guard<std::mutex> l(layouts_mu_);
  const std::string below = path + "/";
  for (auto it = layouts_.begin(); it != layouts_.end();) {
    bool gone = it->first == path || (tree && it->first.compare(0, below.size(), below) == 0);
    it = gone ? layouts_.erase(it) : std::next(it);
  }
}

uint32_t PfsStore::Target(const std::string& path, uint64_t offset) {
  {
    std::lock_guard<std::mutex> l(layouts_mu_);
    auto it = layouts_.find(path);
    if (it != layouts_.end()) return static_cast<uint32_t>(it->second.TargetOf(offset));
  }
  std::string real;
  PfsLayout layout = Resolve(path, &real).ok() ? ReadPfsLayout(real, HashPath(path)) : FallbackLayout(0, HashPath(path));
  uint32_t target = static_cast<uint32_t>(layout.TargetOf(offset));
  std::lock_guard<std::mutex> l(layouts_mu_);
  if (layouts_.size() >= 16 * kPfsOpenFiles) layouts_.clear();  // bounded; refilled on demand
  layouts_.emplace(path, std::move(layout));
  return target;
}

Status PfsStore::SyncAll() {
  int fd = open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("open " + root_);
  Status s = syncfs(fd) == 0 ? Status::OK() : Errno("syncfs " + root_);
  close(fd);
  return s;
}

}  // namespace gkfs
