// open/read/write/lseek/stat semantics for gkfs descriptors and paths.
#include "preload/gkfs_ops.h"

#include <fcntl.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "common/path_util.h"
#include "common/posix_stat.h"
#include "preload/caller_memory.h"
#include "preload/libc.h"
#include "preload/ancestors.h"
#include "preload/links.h"
#include "preload/node_objects.h"
#include "preload/open_registry.h"
#include "preload/permissions.h"

namespace gkfs::preload {

namespace {

// Metadata for open(): creates the file when O_CREAT says so; *created tells whether this
// call made it (its creator may open it whatever its mode says).
Status CreateOrStat(Client& client, const PathTarget& target, int flags, mode_t mode,
                    Metadata* md, bool* created) {
  *created = false;
  if (!(flags & O_CREAT)) return client.OpenFile(target.internal, false, 0, false, opens::Session(), md, created);
  if (target.internal == "/" || target.names_directory) {
    return Status::Error((flags & O_EXCL) ? EEXIST : EISDIR, "is a directory");
  }
  uint32_t perms = mode & ~CurrentUmask() & 07777;
  return client.OpenFile(target.internal, true, perms, (flags & O_EXCL) != 0, opens::Session(), md, created);
}

// The permissions open() needs on an existing file (open(2): EACCES).
bool MayOpen(const Metadata& md, int flags) {
  int access = flags & O_ACCMODE;
  int wanted = access == O_RDONLY ? R_OK : access == O_WRONLY ? W_OK : R_OK | W_OK;
  if ((flags & O_TRUNC) && !md.is_dir()) wanted |= W_OK;
  return MayAccess(md, wanted);
}

// open(2) of a kernel path a symbolic link in gkfs led to.
int OpenKernel(const char* path, int flags, mode_t mode) {
  static const auto real = NextSymbol<int (*)(int, const char*, int, ...)>("openat");
  return real(AT_FDCWD, path, flags, mode);
}

// The metadata open() works on: created or looked up, symbolic links followed (O_NOFOLLOW:
// ELOOP at the last component). Returns 0, 1 when *target became a kernel path, or -1. A
// regular file found is counted as open (opens::Opened): the caller ends that count with
// opens::Closed when the open fails after this.
int OpenMetadata(PathTarget* target, int flags, mode_t mode, Metadata* md) {
  bool resolved_ancestors = false;
  bool created = false;
  for (int hops = 0;;) {
    if (target->kernel()) return 1;
    if (!target->gkfs()) return FailWith(target->error);
    Status s = WithClient(
        [&](Client& c) { return CreateOrStat(c, *target, flags, mode, md, &created); });
    if (!s.ok()) {
      if ((s.code() != ENOENT && s.code() != ENOTDIR) || resolved_ancestors) return FailWith(s);
      errno = s.code();
      resolved_ancestors = true;
      if (!ResolveAncestors(target)) return FailWith(s);
      continue;
    }
    if (!S_ISLNK(md->mode)) {
      if (!md->is_regular()) return created || MayOpen(*md, flags) ? 0 : FailWith(EACCES);
      opens::Opened(md->file_id);
      if (created || MayOpen(*md, flags)) return 0;
      opens::Closed(md->file_id, target->internal);
      return FailWith(EACCES);
    }
    if (flags & O_NOFOLLOW) return FailWith((flags & O_DIRECTORY) ? ENOTDIR : ELOOP);
    FollowLink(target->internal, md->link_target, &hops, target);
  }
}

}  // namespace

namespace {
// The umask as last read, or -1: reading it costs two system calls (set and restore), so
// it is kept until umask() (hooked: ForgetUmask) changes it. A vfork child shares this
// memory but not its parent's umask, so it never stores here.
std::atomic<int> g_umask{-1};
}  // namespace

mode_t CurrentUmask() {
  int cached = g_umask.load(std::memory_order_relaxed);
  if (cached >= 0) return static_cast<mode_t>(cached);
  mode_t mask = sys::Umask(0);
  sys::Umask(mask);
  if (!InVforkChild()) g_umask.store(static_cast<int>(mask), std::memory_order_relaxed);
  return mask;
}

void ForgetUmask() { g_umask.store(-1, std::memory_order_relaxed); }

uint64_t InodeOf(const std::string& internal) {
  uint64_t h = Fnv1a(internal);  // d_ino and st_ino only need to agree
  return h == 0 ? 1 : h;
}

dev_t DeviceId() {
  static const dev_t dev = static_cast<dev_t>(FileSystemDevice(config().mountdir));
  return dev;
}

int OpenPath(PathTarget* target, int flags, mode_t mode) {
  if ((flags & O_TMPFILE) == O_TMPFILE) return FailWith(EOPNOTSUPP);
  int access = flags & O_ACCMODE;  // O_ACCMODE itself: neither read nor write, as Linux
  Metadata md;
  int found = OpenMetadata(target, flags, mode, &md);
  if (found != 0) return found > 0 ? OpenKernel(target->kernel_path, flags, mode) : -1;
  // From here on, a failure ends the open OpenMetadata counted.
  auto fail = [&md, target](const Status& s) {
    if (md.is_regular()) opens::Closed(md.file_id, target->internal);
    return FailWith(s);
  };
  FileKind kind = FileKind::kFile;
  if (md.is_dir()) {
    if ((flags & O_CREAT) || access != O_RDONLY) return fail(Status::Error(EISDIR, "is a directory"));
    kind = FileKind::kDirectory;
  } else {
    if ((flags & O_DIRECTORY) || target->names_directory) return fail(Status::Error(ENOTDIR, "not a directory"));
    // FIFOs meet at a kernel FIFO of this host; a device gives ENXIO, a socket too (Linux).
    if (!md.is_regular()) return S_ISSOCK(md.mode) ? FailWith(ENXIO) : nodes::OpenSpecial(md, flags);
    if ((flags & O_TRUNC) && access != O_RDONLY && md.size > 0) {
      Status s = WithClient([&](Client& c) { return c.TruncateFile(target->internal, md.file_id, 0); });
      ReadAhead::DataChanged();
      if (!s.ok()) return fail(s);
    }
  }
  int fd = fds::Create(kind, flags, md.file_id, target->internal);
  if (fd < 0) return fail(Status::Error(errno, "no descriptor"));
  if (md.mode & (S_ISUID | S_ISGID)) {
    if (OpenFileRef file = fds::Lookup(fd)) file->setid_bits.store(md.mode & (S_ISUID | S_ISGID | S_IXGRP));
  }
  Log(LogLevel::kDebug, "open %s flags 0x%x -> fd %d", target->internal.c_str(), flags, fd);
  return fd;
}

ssize_t ReadFd(int fd, const OpenFile& file, void* buf, size_t len, int64_t offset) {
  if (file.is_dir()) return FailWith(EISDIR);
  if (!file.readable()) return FailWith(EBADF);
  len = std::min(len, kMaxTransfer);
  if (len == 0) return 0;
  if (!sys::IsMapped(buf, len)) return FailWith(EFAULT);
  bool at_position = offset < 0;
  if (at_position && (offset = fds::Position(fd)) < 0) return -1;
  size_t got = 0;
  auto fetch = [&file](uint64_t at, void* dst, size_t n, size_t* fetched) {
    return WithClient([&](Client& c) { return c.Read(file.path, file.file_id, at, dst, n, fetched); });
  };
  const size_t window = config().read_ahead;
  Status s = window > 0 ? file.read_ahead.Read(window, static_cast<uint64_t>(offset), buf, len, &got, fetch)
                        : fetch(static_cast<uint64_t>(offset), buf, len, &got);
  if (!s.ok()) return FailWith(s);
  if (at_position && got > 0) fds::SetPosition(fd, offset + static_cast<int64_t>(got));
  return static_cast<ssize_t>(got);
}

void DropSetIdOnWrite(const OpenFile& file) {
  if (file.setid_bits.load(std::memory_order_relaxed) == 0 || geteuid() == 0) return;  // CAP_FSETID
  Metadata md;
  if (StatOpen(file, &md) != 0) return;
  // Linux's should_remove_suid and setattr_should_drop_sgid.
  uint32_t kill = md.mode & S_ISUID;
  if ((md.mode & S_ISGID) && ((md.mode & S_IXGRP) || !InGroup(md.gid))) kill |= S_ISGID;
  file.setid_bits.store(md.mode & (S_ISUID | S_ISGID) & ~kill, std::memory_order_relaxed);
  if (kill == 0) return;
  WithClient([&](Client& c) {
    return c.SetAttrFile(file.path, file.file_id, md.mode & 07777 & ~kill, -1, -1, -1, -1);
  });
}

ssize_t WriteFd(int fd, const OpenFile& file, const void* buf, size_t len, int64_t offset) {
  if (file.is_dir() || !file.writable()) return FailWith(EBADF);
  len = std::min(len, kMaxTransfer);
  if (len == 0) return 0;
  if (!sys::IsMapped(buf, len)) return FailWith(EFAULT);
  int flags = fds::ReadFlags(fd);
  if (flags < 0) return -1;
  bool at_position = offset < 0;
  Status s;
  if (flags & O_APPEND) {  // as Linux: appends even for pwrite
    uint64_t at = 0;
    s = WithClient([&](Client& c) { return c.Append(file.path, file.file_id, buf, len, &at); });
    offset = static_cast<int64_t>(at);
  } else {
    if (at_position && (offset = fds::Position(fd)) < 0) return -1;
    s = WithClient([&](Client& c) {
      return c.Write(file.path, file.file_id, static_cast<uint64_t>(offset), buf, len);
    });
  }
  ReadAhead::DataChanged();  // also after a failure: some bytes may have been written
  if (!s.ok()) return FailWith(s);
  if (at_position) fds::SetPosition(fd, offset + static_cast<int64_t>(len));
  DropSetIdOnWrite(file);
  return static_cast<ssize_t>(len);
}

int64_t SeekFd(int fd, const OpenFile& file, int64_t offset, int whence) {
  int64_t base = 0;
  switch (whence) {
    case SEEK_SET:
      break;
    case SEEK_CUR:
      if ((base = fds::Position(fd)) < 0) return -1;
      break;
    case SEEK_END:
    case SEEK_DATA:
    case SEEK_HOLE: {
      if (file.is_dir()) return FailWith(EINVAL);
      Metadata md;
      if (StatOpen(file, &md) != 0) return -1;
      int64_t size = static_cast<int64_t>(md.size);
      if (whence == SEEK_END) {
        base = size;
        break;
      }
      // No holes are reported: data runs from 0 to the size.
      if (offset < 0 || offset >= size) return FailWith(ENXIO);
      int64_t result = whence == SEEK_DATA ? offset : size;
      return fds::SetPosition(fd, result) == 0 ? result : -1;
    }
    default:
      return FailWith(EINVAL);
  }
  int64_t result;
  if (__builtin_add_overflow(base, offset, &result)) return FailWith(EOVERFLOW);
  if (result < 0) return FailWith(EINVAL);
  return fds::SetPosition(fd, result) == 0 ? result : -1;
}

int RemoveDirectory(const PathTarget& target) {
  if (target.internal == "/") return FailWith(EBUSY);
  ancestors::Forget();
  Status s = WithClient([&](Client& c) { return c.Rmdir(target.internal); });
  return s.ok() ? 0 : FailWith(s);
}


int StatInternal(const std::string& internal, Metadata* md) {
  Status s = WithClient([&](Client& c) { return c.Stat(internal, md); });
  return s.ok() ? 0 : FailWith(s);
}

void FillStat(const Metadata& md, const std::string& internal, struct stat* st) {
  gkfs::FillStat(md, DeviceId(), ChunkSize(), md.file_id != 0 ? 0 : InodeOf(internal), st);
}

int StatOpen(const OpenFile& file, Metadata* md) {
  Status s = WithClient([&](Client& c) { return c.StatFile(file.path, file.file_id, md); });
  return s.ok() ? 0 : FailWith(s);
}

int StatFd(const OpenFile& file, struct stat* st) {
  Metadata md;
  if (StatOpen(file, &md) != 0) return -1;
  if (!caller::WillWrite(st, sizeof(*st))) return FailWith(EFAULT);
  FillStat(md, file.path, st);
  return 0;
}

}  // namespace gkfs::preload
