// read/write families, lseek, sync, truncate, advice and allocation, mmap.
#include "preload/hooks.h"

#include <limits.h>
#include <sys/mman.h>
#include <sys/uio.h>

#include <cstring>
#include <memory>

#include "preload/caller_memory.h"
#include "preload/permissions.h"

using namespace gkfs;
using namespace gkfs::preload;

namespace {

// Sum of the iovec lengths, capped like Linux; -1 with errno for a bad vector (EFAULT also
// when a buffer is not mapped: the bounce buffer is copied to or from all of them).
ssize_t VectorLength(const struct iovec* iov, int count) {
  if (count < 0 || count > IOV_MAX) return FailWith(EINVAL);
  if (!caller::Readable(iov, sizeof(*iov) * static_cast<size_t>(count))) return FailWith(EFAULT);
  size_t total = 0;
  for (int i = 0; i < count; ++i) {
    if (__builtin_add_overflow(total, iov[i].iov_len, &total) || total > SSIZE_MAX) {
      return FailWith(EINVAL);
    }
  }
  for (int i = 0; count > 1 && i < count; ++i) {
    if (!sys::IsMapped(iov[i].iov_base, iov[i].iov_len)) return FailWith(EFAULT);
  }
  return static_cast<ssize_t>(std::min(total, kMaxTransfer));
}

// One read into a bounce buffer, scattered afterwards (one RPC round instead of one per iovec).
ssize_t ReadVector(int fd, const OpenFile& file, const struct iovec* iov, int count,
                   int64_t offset) {
  ssize_t total = VectorLength(iov, count);
  if (total < 0) return -1;
  if (count == 1) return ReadFd(fd, file, iov[0].iov_base, static_cast<size_t>(total), offset);
  std::unique_ptr<char[]> buf(new char[total]);
  ssize_t got = ReadFd(fd, file, buf.get(), static_cast<size_t>(total), offset);
  size_t done = 0;
  for (int i = 0; i < count && got > 0 && done < static_cast<size_t>(got); ++i) {
    size_t n = std::min(iov[i].iov_len, static_cast<size_t>(got) - done);
    std::memcpy(iov[i].iov_base, buf.get() + done, n);
    done += n;
  }
  return got;
}

ssize_t WriteVector(int fd, const OpenFile& file, const struct iovec* iov, int count,
                    int64_t offset) {
  ssize_t total = VectorLength(iov, count);
  if (total < 0) return -1;
  if (count == 1) return WriteFd(fd, file, iov[0].iov_base, static_cast<size_t>(total), offset);
  std::unique_ptr<char[]> buf(new char[total]);
  size_t done = 0;
  for (int i = 0; i < count && done < static_cast<size_t>(total); ++i) {
    size_t n = std::min(iov[i].iov_len, static_cast<size_t>(total) - done);
    std::memcpy(buf.get() + done, iov[i].iov_base, n);
    done += n;
  }
  return WriteFd(fd, file, buf.get(), static_cast<size_t>(total), offset);
}

int SyncFile(const OpenFile& file, SyncLevel level) {
  uint64_t file_id = file.is_dir() ? 0 : file.file_id;
  return Result(WithClient([&](Client& c) { return c.Sync(file.path, file_id, level); }));
}

int Truncate(const OpenFile& file, int64_t length) {
  if (length < 0) return FailWith(EINVAL);
  int r = Result(WithClient([&](Client& c) { return c.TruncateFile(file.path, file.file_id, length); }));
  ReadAhead::DataChanged();
  if (r == 0) DropSetIdOnWrite(file);
  return r;
}

// fallocate without flags and posix_fallocate: grow the size if the range ends past it.
int Allocate(const OpenFile& file, int64_t offset, int64_t length) {
  if (offset < 0 || length <= 0) return FailWith(EINVAL);
  if (file.is_dir()) return FailWith(ENODEV);
  if (!file.writable()) return FailWith(EBADF);
  int64_t end;
  if (__builtin_add_overflow(offset, length, &end)) return FailWith(EFBIG);
  Metadata md;
  if (StatOpen(file, &md) != 0) return -1;
  if (static_cast<uint64_t>(end) <= md.size) return 0;
  return Truncate(file, end);
}

// A gkfs file is mapped as a private copy of its contents (anonymous memory filled by one
// read): exact for MAP_PRIVATE, and for read-only MAP_SHARED until someone writes the file.
// Writable shared mappings cannot be kept coherent: ENODEV, as without mmap support.
// (Called directly by both entry points: UCX's memory hooks may redirect calls made through
// the `mmap` symbol, even our own.)
void* Mmap(void* addr, size_t length, int prot, int flags, int fd, off_t offset) {
  static const auto real = NextSymbol<decltype(&::mmap)>("mmap");
  OpenFileRef f = (fd >= 0 && !(flags & MAP_ANONYMOUS)) ? OurFile(fd) : nullptr;
  if (!f) return real(addr, length, prot, flags, fd, offset);
  bool shared = (flags & MAP_TYPE) != MAP_PRIVATE;
  if (shared && (prot & PROT_WRITE)) return errno = ENODEV, MAP_FAILED;
  if (f->is_dir()) return errno = ENODEV, MAP_FAILED;
  if (!f->readable()) return errno = EACCES, MAP_FAILED;
  if (offset < 0 || offset % sysconf(_SC_PAGESIZE) != 0) return errno = EINVAL, MAP_FAILED;
  int anon_flags = (flags & ~MAP_TYPE) | MAP_PRIVATE | MAP_ANONYMOUS;
  void* map = real(addr, length, prot | PROT_WRITE, anon_flags, -1, 0);
  if (map == MAP_FAILED) return map;
  for (size_t done = 0; done < length;) {  // bytes past the end of the file stay zero
    ssize_t n = ReadFd(fd, *f, static_cast<char*>(map) + done, length - done, offset + done);
    if (n <= 0) {
      if (n == 0) break;
      int saved = errno;
      munmap(map, length);
      return errno = saved, MAP_FAILED;
    }
    done += static_cast<size_t>(n);
  }
  if (!(prot & PROT_WRITE)) mprotect(map, length, prot);
  return map;
}

}  // namespace

extern "C" {

ssize_t read(int fd, void* buf, size_t len) {
  static const auto real = NextSymbol<decltype(&::read)>("read");
  if (OpenFileRef f = OurFile(fd)) return ReadFd(fd, *f, buf, len, -1);
  return real(fd, buf, len);
}

ssize_t write(int fd, const void* buf, size_t len) {
  static const auto real = NextSymbol<decltype(&::write)>("write");
  if (OpenFileRef f = OurFile(fd)) return WriteFd(fd, *f, buf, len, -1);
  return real(fd, buf, len);
}

ssize_t pread(int fd, void* buf, size_t len, off_t offset) {
  static const auto real = NextSymbol<decltype(&::pread)>("pread");
  if (OpenFileRef f = OurFile(fd)) {
    return offset < 0 ? FailWith(EINVAL) : ReadFd(fd, *f, buf, len, offset);
  }
  return real(fd, buf, len, offset);
}

ssize_t pread64(int fd, void* buf, size_t len, off64_t offset) {
  static const auto real = NextSymbol<decltype(&::pread64)>("pread64");
  if (OpenFileRef f = OurFile(fd)) {
    return offset < 0 ? FailWith(EINVAL) : ReadFd(fd, *f, buf, len, offset);
  }
  return real(fd, buf, len, offset);
}

ssize_t pwrite(int fd, const void* buf, size_t len, off_t offset) {
  static const auto real = NextSymbol<decltype(&::pwrite)>("pwrite");
  if (OpenFileRef f = OurFile(fd)) {
    return offset < 0 ? FailWith(EINVAL) : WriteFd(fd, *f, buf, len, offset);
  }
  return real(fd, buf, len, offset);
}

ssize_t pwrite64(int fd, const void* buf, size_t len, off64_t offset) {
  static const auto real = NextSymbol<decltype(&::pwrite64)>("pwrite64");
  if (OpenFileRef f = OurFile(fd)) {
    return offset < 0 ? FailWith(EINVAL) : WriteFd(fd, *f, buf, len, offset);
  }
  return real(fd, buf, len, offset);
}

ssize_t readv(int fd, const struct iovec* iov, int count) {
  static const auto real = NextSymbol<decltype(&::readv)>("readv");
  if (OpenFileRef f = OurFile(fd)) return ReadVector(fd, *f, iov, count, -1);
  return real(fd, iov, count);
}

ssize_t writev(int fd, const struct iovec* iov, int count) {
  static const auto real = NextSymbol<decltype(&::writev)>("writev");
  if (OpenFileRef f = OurFile(fd)) return WriteVector(fd, *f, iov, count, -1);
  return real(fd, iov, count);
}

ssize_t preadv(int fd, const struct iovec* iov, int count, off_t offset) {
  static const auto real = NextSymbol<decltype(&::preadv)>("preadv");
  if (OpenFileRef f = OurFile(fd)) {
    return offset < 0 ? FailWith(EINVAL) : ReadVector(fd, *f, iov, count, offset);
  }
  return real(fd, iov, count, offset);
}

// On 64-bit Linux off_t is off64_t and libc's preadv64 is preadv.
ssize_t preadv64(int fd, const struct iovec* iov, int count, off64_t offset) {
  return preadv(fd, iov, count, offset);
}

ssize_t pwritev(int fd, const struct iovec* iov, int count, off_t offset) {
  static const auto real = NextSymbol<decltype(&::pwritev)>("pwritev");
  if (OpenFileRef f = OurFile(fd)) {
    return offset < 0 ? FailWith(EINVAL) : WriteVector(fd, *f, iov, count, offset);
  }
  return real(fd, iov, count, offset);
}

// On 64-bit Linux off_t is off64_t and libc's pwritev64 is pwritev.
ssize_t pwritev64(int fd, const struct iovec* iov, int count, off64_t offset) {
  return pwritev(fd, iov, count, offset);
}

// The v2 calls: offset -1 means the file position; RWF_* hints are ignored.
ssize_t preadv2(int fd, const struct iovec* iov, int count, off_t offset, int flags) {
  static const auto real = NextSymbol<decltype(&::preadv2)>("preadv2");
  if (OpenFileRef f = OurFile(fd)) {
    return offset < -1 ? FailWith(EINVAL) : ReadVector(fd, *f, iov, count, offset);
  }
  return real(fd, iov, count, offset, flags);
}

ssize_t preadv64v2(int fd, const struct iovec* iov, int count, off64_t offset, int flags) {
  static const auto real = NextSymbol<decltype(&::preadv64v2)>("preadv64v2");
  if (OpenFileRef f = OurFile(fd)) {
    return offset < -1 ? FailWith(EINVAL) : ReadVector(fd, *f, iov, count, offset);
  }
  return real(fd, iov, count, offset, flags);
}

ssize_t pwritev2(int fd, const struct iovec* iov, int count, off_t offset, int flags) {
  static const auto real = NextSymbol<decltype(&::pwritev2)>("pwritev2");
  if (OpenFileRef f = OurFile(fd)) {
    return offset < -1 ? FailWith(EINVAL) : WriteVector(fd, *f, iov, count, offset);
  }
  return real(fd, iov, count, offset, flags);
}

ssize_t pwritev64v2(int fd, const struct iovec* iov, int count, off64_t offset, int flags) {
  static const auto real = NextSymbol<decltype(&::pwritev64v2)>("pwritev64v2");
  if (OpenFileRef f = OurFile(fd)) {
    return offset < -1 ? FailWith(EINVAL) : WriteVector(fd, *f, iov, count, offset);
  }
  return real(fd, iov, count, offset, flags);
}

off_t lseek(int fd, off_t offset, int whence) {
  static const auto real = NextSymbol<decltype(&::lseek)>("lseek");
  if (OpenFileRef f = OurFile(fd)) return SeekFd(fd, *f, offset, whence);
  return real(fd, offset, whence);
}

off64_t lseek64(int fd, off64_t offset, int whence) {
  static const auto real = NextSymbol<decltype(&::lseek64)>("lseek64");
  if (OpenFileRef f = OurFile(fd)) return SeekFd(fd, *f, offset, whence);
  return real(fd, offset, whence);
}

// Written data sits in the daemons' page cache until these make it durable there.
int fsync(int fd) {
  static const auto real = NextSymbol<decltype(&::fsync)>("fsync");
  if (OpenFileRef f = OurFile(fd)) return SyncFile(*f, SyncLevel::kFile);
  return real(fd);
}

int fdatasync(int fd) {
  static const auto real = NextSymbol<decltype(&::fdatasync)>("fdatasync");
  if (OpenFileRef f = OurFile(fd)) return SyncFile(*f, SyncLevel::kData);
  return real(fd);
}

// Writing out (SYNC_FILE_RANGE_WRITE) or waiting for (WAIT_AFTER) a range: the file's chunk
// data is synced whole (a superset of the range), its metadata not, as on Linux.
// WAIT_BEFORE alone waits for write-out already under way: gkfs starts none.
int sync_file_range(int fd, off64_t offset, off64_t nbytes, unsigned int flags) {
  static const auto real = NextSymbol<decltype(&::sync_file_range)>("sync_file_range");
  OpenFileRef f = OurFile(fd);
  if (!f) return real(fd, offset, nbytes, flags);
  constexpr unsigned kAll = SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER;
  off64_t end;
  if ((flags & ~kAll) || offset < 0 || nbytes < 0 || __builtin_add_overflow(offset, nbytes, &end)) {
    return FailWith(EINVAL);
  }
  if (f->is_dir() || !(flags & (SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER))) return 0;
  return SyncFile(*f, SyncLevel::kDataOnly);
}

int syncfs(int fd) {
  static const auto real = NextSymbol<decltype(&::syncfs)>("syncfs");
  if (!OurFile(fd)) return real(fd);
  return Result(WithClient([](Client& c) { return c.SyncFs(); }));
}

// sync(2) covers every file system, gkfs included when this process is configured for one
// (connecting if it has not yet). It cannot fail: errors are only logged.
void sync() {
  static const auto real = NextSymbol<decltype(&::sync)>("sync");
  real();
  if (ReentryGuard::active() || InVforkChild()) return;
  int saved = errno;
  Status s = WithClient([](Client& c) { return c.SyncFs(); });
  if (!s.ok()) Log(LogLevel::kErrors, "sync: gkfs: %s", s.ToString().c_str());
  errno = saved;
}

int ftruncate(int fd, off_t length) {
  static const auto real = NextSymbol<decltype(&::ftruncate)>("ftruncate");
  OpenFileRef f = OurFile(fd);
  if (!f) return real(fd, length);
  if (f->is_dir() || !f->writable()) return FailWith(EINVAL);
  return Truncate(*f, length);
}

int ftruncate64(int fd, off64_t length) {
  static const auto real = NextSymbol<decltype(&::ftruncate64)>("ftruncate64");
  OpenFileRef f = OurFile(fd);
  if (!f) return real(fd, length);
  if (f->is_dir() || !f->writable()) return FailWith(EINVAL);
  return Truncate(*f, length);
}

int truncate(const char* path, off_t length) {
  static const auto real = NextSymbol<decltype(&::truncate)>("truncate");
  PathTarget t;
  ResolveArg(path, &t);
  if (t.gkfs()) {
    if (length < 0) return FailWith(EINVAL);
    Metadata md;
    int found = LookupArg(&t, true, &md);
    if (found < 0) return -1;
    if (found == 0) {
      if (md.is_dir()) return FailWith(EISDIR);
      if (!MayAccess(md, W_OK)) return FailWith(EACCES);
      int r = Result(WithClient([&](Client& c) { return c.Truncate(t.internal, length); }));
      ReadAhead::DataChanged();
      return r;
    }
  }
  if (t.kernel()) return real(t.kernel_path, length);
  return FailWith(t.error);
}

int truncate64(const char* path, off64_t length) { return truncate(path, length); }

int posix_fadvise(int fd, off_t offset, off_t length, int advice) {
  static const auto real = NextSymbol<decltype(&::posix_fadvise)>("posix_fadvise");
  if (OurFile(fd)) return 0;
  return real(fd, offset, length, advice);
}

int posix_fadvise64(int fd, off64_t offset, off64_t length, int advice) {
  static const auto real = NextSymbol<decltype(&::posix_fadvise64)>("posix_fadvise64");
  if (OurFile(fd)) return 0;
  return real(fd, offset, length, advice);
}

int fallocate(int fd, int mode, off_t offset, off_t length) {
  static const auto real = NextSymbol<decltype(&::fallocate)>("fallocate");
  OpenFileRef f = OurFile(fd);
  if (!f) return real(fd, mode, offset, length);
  if (mode == FALLOC_FL_KEEP_SIZE) return offset < 0 || length <= 0 ? FailWith(EINVAL) : 0;
  if (mode != 0) return FailWith(EOPNOTSUPP);  // no hole punching or range zeroing
  return Allocate(*f, offset, length);
}

int fallocate64(int fd, int mode, off64_t offset, off64_t length) {
  return fallocate(fd, mode, offset, length);
}

// posix_fallocate returns the error number instead of setting errno.
int posix_fallocate(int fd, off_t offset, off_t length) {
  static const auto real = NextSymbol<decltype(&::posix_fallocate)>("posix_fallocate");
  OpenFileRef f = OurFile(fd);
  if (!f) return real(fd, offset, length);
  return Allocate(*f, offset, length) == 0 ? 0 : errno;
}

int posix_fallocate64(int fd, off64_t offset, off64_t length) {
  return posix_fallocate(fd, offset, length);
}

void* mmap(void* addr, size_t length, int prot, int flags, int fd, off_t offset) {
  return Mmap(addr, length, prot, flags, fd, offset);
}

void* mmap64(void* addr, size_t length, int prot, int flags, int fd, off64_t offset) {
  return Mmap(addr, length, prot, flags, fd, offset);
}

}  // extern "C"
