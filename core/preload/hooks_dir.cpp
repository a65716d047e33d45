// Directories: mkdir/rmdir, the DIR stream functions and getdents64.
//
// A gkfs directory stream (GkfsDir) is told apart from glibc's DIR by its first member: both
// start with the descriptor, and only ours hold a gkfs descriptor. Listings are snapshots
// fetched with Client::ReadDir when the stream is opened or rewound, "." and ".." first.
#include "preload/hooks.h"

#include <dirent.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "common/path_util.h"

using namespace gkfs;
using namespace gkfs::preload;

namespace {

struct GkfsDir {
  int fd;  // first, as in glibc's struct __dirstream
  size_t position = 0;
  std::string path;
  uint64_t ino = 0;  // the directory's inode id (d_ino of ".")
  std::vector<DirEntry> entries;
  bool stale = false;  // rewound: fetch the listing again at the next read
  struct dirent64 entry;
};

GkfsDir* OurDir(DIR* dir) {
  dir = Launder(dir);
  if (dir == nullptr || !fds::MaybeOurs(*reinterpret_cast<int*>(dir))) return nullptr;
  return reinterpret_cast<GkfsDir*>(dir);
}


uint64_t EntryInode(const std::string& dir, const DirEntry& e) {
  if (e.ino != 0) return e.ino;
  if (e.name == ".") return InodeOf(dir);
  if (e.name == "..") return InodeOf(ParentPath(dir));
  return InodeOf(ChildPrefix(dir) + e.name);
}

// The listing with "." and ".." first, each with the inode it names (d_ino = st_ino): the
// directory's own is its descriptor's (self_ino); its parent's costs a lookup.
int List(const std::string& internal, uint64_t self_ino, std::vector<DirEntry>* entries) {
  std::vector<DirEntry> children;
  Metadata parent;
  parent.file_id = self_ino;  // the root is its own parent
  Status s = WithClient([&](Client& c) {
    Status r = c.ReadDir(internal, &children);
    if (r.ok() && internal != "/") r = c.Stat(ParentPath(internal), &parent);
    return r;
  });
  if (!s.ok()) return FailWith(s);
  entries->clear();
  entries->reserve(children.size() + 2);
  entries->push_back(DirEntry{".", DT_DIR, self_ino});
  entries->push_back(DirEntry{"..", DT_DIR, parent.file_id});
  for (auto& child : children) entries->push_back(std::move(child));
  return 0;
}

// Wraps an open gkfs directory descriptor (taking it over) in a stream.
DIR* NewDir(int fd, const OpenFile& file) {
  if (!file.is_dir()) return errno = ENOTDIR, nullptr;
  auto* dir = new GkfsDir();
  dir->fd = fd;
  dir->path = file.path;
  dir->ino = file.file_id;
  if (List(dir->path, dir->ino, &dir->entries) != 0) {
    delete dir;
    return nullptr;
  }
  return reinterpret_cast<DIR*>(dir);
}

// Fills one linux_dirent64 record; returns its length, or 0 if it does not fit.
size_t PutDirent(const std::string& dir, const DirEntry& e, int64_t next, char* out,
                 size_t space) {
  size_t len = offsetof(struct dirent64, d_name) + e.name.size() + 1;
  len = (len + 7) & ~size_t{7};
  if (len > space) return 0;
  auto* d = reinterpret_cast<struct dirent64*>(out);
  std::memset(d, 0, len);
  d->d_ino = EntryInode(dir, e);
  d->d_off = next;
  d->d_reclen = static_cast<unsigned short>(len);
  d->d_type = e.type;
  std::memcpy(d->d_name, e.name.c_str(), e.name.size() + 1);
  return len;
}

// scandir over our own stream functions (glibc's calls its internal opendir).
template <typename Entry>
int ScanDir(DIR* dir, Entry*** list, int (*filter)(const Entry*),
            int (*compare)(const Entry**, const Entry**)) {
  std::vector<Entry*> kept;
  while (struct dirent64* e = readdir64(dir)) {
    auto* entry = reinterpret_cast<Entry*>(e);
    if (filter != nullptr && filter(entry) == 0) continue;
    auto* copy = static_cast<Entry*>(malloc(e->d_reclen));
    if (copy == nullptr) break;
    std::memcpy(copy, e, e->d_reclen);
    kept.push_back(copy);
  }
  closedir(dir);
  auto** out = static_cast<Entry**>(malloc((kept.size() + 1) * sizeof(Entry*)));
  if (out == nullptr) {
    for (Entry* e : kept) free(e);
    return FailWith(ENOMEM);
  }
  std::copy(kept.begin(), kept.end(), out);
  if (compare != nullptr) {
    std::sort(out, out + kept.size(), [&](const Entry* a, const Entry* b) {
      return compare(&a, &b) < 0;
    });
  }
  *list = out;
  return static_cast<int>(kept.size());
}

int MkdirAt(int dirfd, const char* path, mode_t mode) {
  static const auto real = NextSymbol<decltype(&::mkdirat)>("mkdirat");
  PathTarget t;
  ResolveEntryArg(dirfd, path, EEXIST, EEXIST, &t);
  return OnPath(
      t, [&](const char* p) { return real(dirfd, p, mode); },
      [&](const PathTarget& g) {
        if (g.internal == "/") return FailWith(EEXIST);
        uint32_t perms = mode & ~CurrentUmask() & 07777;
        return Result(WithClient([&](Client& c) { return c.Mkdir(g.internal, perms); }));
      });
}

// A stream over a freshly opened directory descriptor of either kind.
DIR* OpenDirFd(int fd) {
  static const auto real_fdopendir = NextSymbol<decltype(&::fdopendir)>("fdopendir");
  OpenFileRef file = fds::Lookup(fd);
  DIR* dir = file ? NewDir(fd, *file) : real_fdopendir(fd);
  if (dir == nullptr) {
    int saved = errno;
    ::close(fd);
    errno = saved;
  }
  return dir;
}

// scandir and scandir64 (the same on 64-bit Linux): libc's for kernel paths.
template <typename Entry, typename Real>
int ScanDirPath(const char* path, Entry*** list, int (*filter)(const Entry*),
                int (*compare)(const Entry**, const Entry**), Real real) {
  PathTarget t;
  ResolveArg(path, &t);
  if (t.kernel()) return real(t.kernel_path, list, filter, compare);
  if (!t.gkfs()) return FailWith(t.error);
  int fd = OpenPath(&t, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (fd >= 0 && !fds::MaybeOurs(fd)) {  // a link led to a kernel directory
    ::close(fd);
    return real(t.kernel_path, list, filter, compare);
  }
  DIR* dir = fd < 0 ? nullptr : OpenDirFd(fd);
  return dir == nullptr ? -1 : ScanDir(dir, list, filter, compare);
}

}  // namespace

extern "C" {

int mkdir(const char* path, mode_t mode) { return MkdirAt(AT_FDCWD, path, mode); }
int mkdirat(int dirfd, const char* path, mode_t mode) { return MkdirAt(dirfd, path, mode); }

int rmdir(const char* path) {
  static const auto real = NextSymbol<decltype(&::rmdir)>("rmdir");
  PathTarget t;
  ResolveEntryArg(AT_FDCWD, path, kRmdirDot, kRmdirDotDot, &t);
  return OnPath(t, [&](const char* p) { return real(p); }, RemoveDirectory);
}

DIR* opendir(const char* path) {
  static const auto real = NextSymbol<decltype(&::opendir)>("opendir");
  PathTarget t;
  ResolveArg(path, &t);
  if (t.kernel()) return real(t.kernel_path);
  if (!t.gkfs()) return errno = t.error, nullptr;
  int fd = OpenPath(&t, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  return fd < 0 ? nullptr : OpenDirFd(fd);
}

DIR* fdopendir(int fd) {
  static const auto real = NextSymbol<decltype(&::fdopendir)>("fdopendir");
  OpenFileRef file = OurFile(fd);
  if (!file) return real(fd);
  return NewDir(fd, *file);
}

struct dirent64* readdir64(DIR* stream) {
  static const auto real = NextSymbol<decltype(&::readdir64)>("readdir64");
  GkfsDir* dir = OurDir(stream);
  if (dir == nullptr) return real(stream);
  if (dir->stale) {
    dir->stale = false;
    if (List(dir->path, dir->ino, &dir->entries) != 0) return nullptr;
  }
  if (dir->position >= dir->entries.size()) return nullptr;  // end: errno unchanged
  const DirEntry& e = dir->entries[dir->position++];
  PutDirent(dir->path, e, static_cast<int64_t>(dir->position),
            reinterpret_cast<char*>(&dir->entry), sizeof(dir->entry));
  return &dir->entry;
}

// On 64-bit Linux struct dirent and struct dirent64 are the same.
struct dirent* readdir(DIR* stream) {
  static_assert(sizeof(struct dirent) == sizeof(struct dirent64), "same layout");
  static const auto real = NextSymbol<decltype(&::readdir)>("readdir");
  if (OurDir(stream) == nullptr) return real(stream);
  return reinterpret_cast<struct dirent*>(readdir64(stream));
}

int readdir64_r(DIR* stream, struct dirent64* entry, struct dirent64** result) {
  using Fn = int (*)(DIR*, struct dirent64*, struct dirent64**);  // deprecated in glibc
  static const auto real = NextSymbol<Fn>("readdir64_r");
  if (OurDir(stream) == nullptr) return real(stream, entry, result);
  struct dirent64* next = readdir64(stream);
  if (next != nullptr) std::memcpy(entry, next, next->d_reclen);
  *result = next != nullptr ? entry : nullptr;
  return 0;
}

int readdir_r(DIR* stream, struct dirent* entry, struct dirent** result) {
  using Fn = int (*)(DIR*, struct dirent*, struct dirent**);
  static const auto real = NextSymbol<Fn>("readdir_r");
  if (OurDir(stream) == nullptr) return real(stream, entry, result);
  struct dirent64* next = readdir64(stream);
  if (next != nullptr) std::memcpy(entry, next, next->d_reclen);
  *result = next != nullptr ? entry : nullptr;
  return 0;
}

int closedir(DIR* stream) {
  static const auto real = NextSymbol<decltype(&::closedir)>("closedir");
  GkfsDir* dir = OurDir(stream);
  if (dir == nullptr) return real(stream);
  int r = ::close(dir->fd);
  delete dir;
  return r;
}

int dirfd(DIR* stream) {
  static const auto real = NextSymbol<decltype(&::dirfd)>("dirfd");
  GkfsDir* dir = OurDir(stream);
  return dir != nullptr ? dir->fd : real(stream);
}

void rewinddir(DIR* stream) {
  static const auto real = NextSymbol<decltype(&::rewinddir)>("rewinddir");
  GkfsDir* dir = OurDir(stream);
  if (dir == nullptr) return real(stream);
  dir->position = 0;
  dir->stale = true;  // the next read sees the directory as it is then, as on Linux
}

long telldir(DIR* stream) {
  static const auto real = NextSymbol<decltype(&::telldir)>("telldir");
  GkfsDir* dir = OurDir(stream);
  return dir != nullptr ? static_cast<long>(dir->position) : real(stream);
}

void seekdir(DIR* stream, long position) {
  static const auto real = NextSymbol<decltype(&::seekdir)>("seekdir");
  GkfsDir* dir = OurDir(stream);
  if (dir == nullptr) return real(stream, position);
  dir->position = position < 0 ? 0 : static_cast<size_t>(position);
}

int scandir(const char* path, struct dirent*** list, int (*filter)(const struct dirent*),
            int (*compare)(const struct dirent**, const struct dirent**)) {
  static const auto real = NextSymbol<decltype(&::scandir)>("scandir");
  return ScanDirPath(path, list, filter, compare, real);
}

int scandir64(const char* path, struct dirent64*** list, int (*filter)(const struct dirent64*),
              int (*compare)(const struct dirent64**, const struct dirent64**)) {
  static const auto real = NextSymbol<decltype(&::scandir64)>("scandir64");
  return ScanDirPath(path, list, filter, compare, real);
}

// The position of a gkfs directory descriptor is the index of the next entry.
ssize_t getdents64(int fd, void* buf, size_t len) {
  static const auto real = NextSymbol<decltype(&::getdents64)>("getdents64");
  OpenFileRef file = OurFile(fd);
  if (!file) return real(fd, buf, len);
  if (!file->is_dir()) return FailWith(ENOTDIR);
  buf = Launder(buf);
  if (!sys::IsMapped(buf, len)) return FailWith(EFAULT);
  int64_t position = fds::Position(fd);
  if (position < 0) return -1;
  std::lock_guard<std::mutex> lock(file->listing_mu);
  if (position == 0 && List(file->path, file->file_id, &file->listing) != 0) return -1;
  size_t used = 0;
  auto index = static_cast<size_t>(position);
  for (; index < file->listing.size(); ++index) {
    size_t n = PutDirent(file->path, file->listing[index], static_cast<int64_t>(index + 1),
                         static_cast<char*>(buf) + used, len - used);
    if (n == 0) break;
    used += n;
  }
  if (used == 0 && index < file->listing.size()) return FailWith(EINVAL);  // buffer too small
  fds::SetPosition(fd, static_cast<int64_t>(index));
  return static_cast<ssize_t>(used);
}

}  // extern "C"
