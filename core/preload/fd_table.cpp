// Descriptor table: memfd creation, the header codec and the /proc/self/fd scan after exec.
#include "preload/fd_table.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/limits.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unordered_map>

#include "preload/libc.h"
#include "preload/open_registry.h"
#include "preload/preload.h"

namespace gkfs::preload {

OpenFile::~OpenFile() {
  if (lock_fd >= 0) sys::Close(lock_fd);
}

namespace fds {

namespace internal {
std::atomic<uint64_t> g_bits[kMaxFds / 64];
}

namespace {

constexpr uint32_t kMagic = 0x73666b67;  // "gkfs"
constexpr uint16_t kVersion = 1;
constexpr char kMemfdName[] = "gkfs";

struct HeaderFixed {
  uint32_t magic;
  uint16_t version;
  uint16_t kind;
  uint32_t flags;
  uint32_t path_len;
  uint64_t file_id;
};
static_assert(sizeof(HeaderFixed) == 24, "header layout is part of the format");
constexpr int64_t kFlagsOffset = kHeaderOffset + offsetof(HeaderFixed, flags);

std::mutex g_mu;

// GUARDED_BY(g_mu). Leaked on purpose: exit() flushes stdio streams after every library
// destructor has run, and hooks may run before this library's static initialisers.
std::unordered_map<int, OpenFileRef>& Files() {
  static auto* files = new std::unordered_map<int, OpenFileRef>();
  return *files;
}

void SetBit(int fd, bool on) {
  uint64_t mask = uint64_t{1} << (fd & 63);
  if (on) {
    internal::g_bits[fd >> 6].fetch_or(mask, std::memory_order_release);
  } else {
    internal::g_bits[fd >> 6].fetch_and(~mask, std::memory_order_release);
  }
}

// Erases fd's entry; true when it was its description's last descriptor here.
bool EraseLocked(std::unordered_map<int, OpenFileRef>::iterator it) {
  bool last = --it->second->descriptors == 0;
  Files().erase(it);
  return last;
}

void InsertLocked(int fd, OpenFileRef file) {
  if (static_cast<unsigned>(fd) >= static_cast<unsigned>(kMaxFds)) return;
  if (auto it = Files().find(fd); it != Files().end()) EraseLocked(it);
  ++file->descriptors;
  Files()[fd] = std::move(file);
  SetBit(fd, true);
}

uint64_t InodeOf(int fd) {
  struct stat st;
  return sys::Fstat(fd, &st) == 0 ? st.st_ino : 0;
}

// Reads and validates the header of memfd `fd`.
OpenFileRef ReadHeader(int fd) {
  char buf[sizeof(HeaderFixed) + PATH_MAX];
  ssize_t n = sys::Pread(fd, buf, sizeof(buf), kHeaderOffset);
  if (n < static_cast<ssize_t>(sizeof(HeaderFixed))) return nullptr;
  HeaderFixed h;
  std::memcpy(&h, buf, sizeof(h));
  if (h.magic != kMagic || h.version != kVersion || h.path_len > PATH_MAX ||
      sizeof(h) + h.path_len > static_cast<size_t>(n) ||
      (h.kind != static_cast<uint16_t>(FileKind::kFile) &&
       h.kind != static_cast<uint16_t>(FileKind::kDirectory))) {
    return nullptr;
  }
  auto file = std::make_shared<OpenFile>();
  file->kind = static_cast<FileKind>(h.kind);
  file->access_mode = static_cast<int>(h.flags & O_ACCMODE);
  file->file_id = h.file_id;
  file->path.assign(buf + sizeof(h), h.path_len);
  file->memfd_ino = InodeOf(fd);
  return file;
}

}  // namespace

OpenFileRef Lookup(int fd) {
  if (!MaybeOurs(fd)) return nullptr;
  uint64_t ino = InodeOf(fd);
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = Files().find(fd);
  if (it == Files().end()) return nullptr;
  if (it->second->memfd_ino != ino) {  // the number now names someone else's file
    EraseLocked(it);
    SetBit(fd, false);
    return nullptr;
  }
  return it->second;
}

int Create(FileKind kind, int flags, uint64_t file_id, const std::string& path) {
  int fd = sys::MemfdCreate(kMemfdName, (flags & O_CLOEXEC) ? MFD_CLOEXEC : 0);
  if (fd < 0) return -1;
  if (fd >= kMaxFds) {
    sys::Close(fd);
    return FailWith(EMFILE);
  }
  // Keep what F_GETFL reports: the access mode and the status flags.
  constexpr int kCreationFlags = O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC | O_DIRECTORY |
                                 O_NOFOLLOW;
  HeaderFixed h{kMagic, kVersion, static_cast<uint16_t>(kind),
                static_cast<uint32_t>(flags & ~kCreationFlags), static_cast<uint32_t>(path.size()),
                file_id};
  std::string bytes(reinterpret_cast<const char*>(&h), sizeof(h));
  bytes += path;
  if (sys::Pwrite(fd, bytes.data(), bytes.size(), kHeaderOffset) !=
      static_cast<ssize_t>(bytes.size())) {
    int saved = errno;
    sys::Close(fd);
    return FailWith(saved == EFBIG ? ENOMEM : saved);
  }
  auto file = std::make_shared<OpenFile>();
  file->kind = kind;
  file->access_mode = flags & O_ACCMODE;
  file->file_id = file_id;
  file->path = path;
  file->memfd_ino = InodeOf(fd);
  std::lock_guard<std::mutex> lock(g_mu);
  InsertLocked(fd, std::move(file));
  return fd;
}

void Duplicate(int from, int to) {
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = Files().find(from);
  if (it == Files().end()) return;
  InsertLocked(to, it->second);
}

bool Forget(int fd) {
  if (!MaybeOurs(fd)) return false;
  std::lock_guard<std::mutex> lock(g_mu);
  bool last = false;
  if (auto it = Files().find(fd); it != Files().end()) last = EraseLocked(it);
  SetBit(fd, false);
  return last;
}

int ReadFlags(int fd) {
  uint32_t flags = 0;
  if (sys::Pread(fd, &flags, sizeof(flags), kFlagsOffset) != sizeof(flags)) return FailWith(EBADF);
  return static_cast<int>(flags);
}

int WriteFlags(int fd, int flags) {
  uint32_t value = static_cast<uint32_t>(flags);
  if (sys::Pwrite(fd, &value, sizeof(value), kFlagsOffset) != sizeof(value)) return -1;
  return 0;
}

int64_t Position(int fd) { return sys::Lseek(fd, 0, SEEK_CUR); }

int SetPosition(int fd, int64_t position) {
  return sys::Lseek(fd, position, SEEK_SET) < 0 ? -1 : 0;
}

void ScanInherited() {
  int dir = sys::Open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return;
  alignas(8) char buf[4096];
  std::unordered_map<uint64_t, OpenFileRef> by_inode;  // dups share one OpenFile
  for (;;) {
    ssize_t n = sys::Getdents64(dir, buf, sizeof(buf));
    if (n <= 0) break;
    for (ssize_t off = 0; off < n;) {
      auto* d = reinterpret_cast<struct dirent64*>(buf + off);
      off += d->d_reclen;
      if (d->d_name[0] < '0' || d->d_name[0] > '9') continue;
      int fd = std::atoi(d->d_name);
      if (fd == dir) continue;
      char link_path[64];
      char target[64];
      std::snprintf(link_path, sizeof(link_path), "/proc/self/fd/%d", fd);
      ssize_t len = sys::Readlink(link_path, target, sizeof(target) - 1);
      if (len <= 0) continue;
      target[len] = '\0';
      if (std::strcmp(target, "/memfd:gkfs (deleted)") != 0) continue;
      uint64_t ino = InodeOf(fd);
      OpenFileRef& file = by_inode[ino];
      bool first = !file;
      if (first) file = ReadHeader(fd);
      if (!file) continue;
      // Opens this process counted before it exec'd are its to release (open_registry.h).
      if (first && !file->is_dir()) opens::Opened(file->file_id);
      std::lock_guard<std::mutex> lock(g_mu);
      InsertLocked(fd, file);
      Log(LogLevel::kDebug, "inherited fd %d -> %s", fd, file->path.c_str());
    }
  }
  sys::Close(dir);
}

std::vector<uint64_t> DroppedAtExec() {
  std::lock_guard<std::mutex> lock(g_mu);
  std::unordered_map<const OpenFile*, bool> kept;  // description -> some fd survives exec
  for (const auto& [fd, file] : Files()) {
    if (file->is_dir()) continue;
    bool survives = (sys::Fcntl(fd, F_GETFD, 0) & FD_CLOEXEC) == 0;
    kept[file.get()] = kept[file.get()] || survives;
  }
  std::vector<uint64_t> dropped;
  for (const auto& [file, survives] : kept) {
    if (!survives) dropped.push_back(file->file_id);
  }
  return dropped;
}

void LockForFork() { g_mu.lock(); }
void UnlockAfterFork() { g_mu.unlock(); }

}  // namespace fds
}  // namespace gkfs::preload
