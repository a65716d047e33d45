// Descriptors of open gkfs files and directories.
//
// Every open gkfs file or directory is backed by a memfd. Its content holds the open-file
// state (the header below) and its kernel file offset is the gkfs file position, so the kernel
// numbers, duplicates (dup, dup2, F_DUPFD), inherits (fork, exec) and shares them across
// processes exactly like a kernel file. This table only remembers which descriptor numbers are
// ours and caches their headers; it is rebuilt from /proc/self/fd after exec.
//
// Header grammar (host byte order, at kHeaderOffset inside the memfd):
//   header := magic:u32 (0x73666b67, "gkfs") version:u16 (1) kind:u16 (1 file, 2 directory)
//             flags:u32 path_len:u32 file_id:u64 path:byte[path_len]
// flags are the open(2) access mode and status flags (O_APPEND, O_NONBLOCK, ...); F_SETFL
// rewrites them in place, which every descriptor sharing the description then sees.
// The header sits far beyond any real file position so that a write which bypasses the hooks
// (glibc-internal stdio on a redirected descriptor) cannot overwrite it.
//
// Thread-safe. Membership tests are lock-free; everything else takes one mutex.
#pragma once

#include <fcntl.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gkfs/client.h"
#include "preload/read_ahead.h"

namespace gkfs::preload {

enum class FileKind : uint16_t { kFile = 1, kDirectory = 2 };

// The process-local view of one open file description.
struct OpenFile {
  FileKind kind = FileKind::kFile;
  int access_mode = 0;      // O_RDONLY, O_WRONLY or O_RDWR (fixed at open)
  uint64_t file_id = 0;
  std::string path;         // file-system-internal path at open time
  uint64_t memfd_ino = 0;   // identity of the backing memfd
  // The file's set-id bits (S_ISUID, S_ISGID) as this process last knew them: an
  // unprivileged write or truncation may drop them (DropSetIdOnWrite). 0 when none or
  // unknown (an inherited descriptor).
  mutable std::atomic<uint32_t> setid_bits{0};
  // Descriptor numbers of this process naming this description. GUARDED_BY(the table's lock)
  int descriptors = 0;

  bool is_dir() const { return kind == FileKind::kDirectory; }
  bool readable() const { return access_mode == O_RDONLY || access_mode == O_RDWR; }
  bool writable() const { return access_mode == O_WRONLY || access_mode == O_RDWR; }

  // getdents64 snapshot, fetched when a read starts at position 0.
  std::mutex listing_mu;
  std::vector<DirEntry> listing;  // GUARDED_BY(listing_mu)

  // The opt-in read-ahead window (LIBGKFS_READ_AHEAD); unused when the option is off.
  mutable ReadAhead read_ahead;

  // The kernel descriptor carrying this description's flock and OFD locks (locks.h), or -1.
  std::mutex lock_mu;
  int lock_fd = -1;  // GUARDED_BY(lock_mu)

  OpenFile() = default;
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;
  ~OpenFile();  // closes lock_fd
};
using OpenFileRef = std::shared_ptr<OpenFile>;

namespace fds {

constexpr int kMaxFds = 1 << 20;
constexpr int64_t kHeaderOffset = int64_t{1} << 62;

// True if fd is (as far as this process knows) a gkfs descriptor. Lock-free.
inline bool MaybeOurs(int fd);

// The open file behind fd, or nullptr if fd is not ours. Drops entries whose number the
// kernel has since given to another file (closed behind our back, e.g. by close_range).
OpenFileRef Lookup(int fd);

// Creates the memfd for a newly opened gkfs file. Returns the descriptor, or -1 with errno.
int Create(FileKind kind, int flags, uint64_t file_id, const std::string& path);
// Records that `to` now refers to the same description as `from` (after dup/dup2/F_DUPFD).
void Duplicate(int from, int to);
// Records that fd no longer refers to a gkfs file (after close or dup2 over it). True when
// it was this process's last descriptor of its open file description.
bool Forget(int fd);

// The open flags stored in the header (shared by all descriptors of the description).
int ReadFlags(int fd);
int WriteFlags(int fd, int flags);
// The gkfs file position (the memfd's kernel offset).
int64_t Position(int fd);
int SetPosition(int fd, int64_t position);

// After exec: finds inherited gkfs descriptors in /proc/self/fd.
void ScanInherited();

// The inode ids of the regular files whose every descriptor here is close-on-exec: an exec
// drops those open files (each description once).
std::vector<uint64_t> DroppedAtExec();

void LockForFork();
void UnlockAfterFork();

// --- implementation of the lock-free membership test ---
namespace internal {
extern std::atomic<uint64_t> g_bits[kMaxFds / 64];
}
inline bool MaybeOurs(int fd) {
  if (static_cast<unsigned>(fd) >= static_cast<unsigned>(kMaxFds)) return false;
  return (internal::g_bits[fd >> 6].load(std::memory_order_acquire) >> (fd & 63)) & 1;
}

}  // namespace fds
}  // namespace gkfs::preload
