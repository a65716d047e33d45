// PfsFiles: a bounded cache of open descriptors of PFS files, by real path, so a burst of
// reads and writes to one file costs one open(2) instead of an open and a close per merged
// unit (two metadata operations on Lustre or GPFS). Least recently used entries are closed
// first. A hit is checked with stat(2) of the path against the descriptor's (st_dev,
// st_ino), so a name removed, renamed or replaced behind this cache (by another I/O node,
// or by anyone on the PFS) is reopened, never written through a stale descriptor; on a PFS
// that caches attributes under locks (Lustre, GPFS) that stat is served from the client.
// A file removed behind the cache and not asked for again would keep its blocks allocated
// while its descriptor stays open, so a thread of the cache's own fstat(2)s, every
// kPfsRevalidateSeconds, up to kPfsRevalidateBatch entries not used since its last pass and
// closes those whose file has no name left (st_nlink == 0): a bounded cost off the requests'
// path, and a removed file's blocks are freed within about capacity / kPfsRevalidateBatch
// passes. NFS does not show such a removal: a file still open on the client is renamed to
// .nfsXXXX (a "silly rename") and keeps st_nlink > 0, so its descriptor stays until evicted
// or until its name is asked for again.
// Thread-safe; descriptors handed out stay valid while the caller holds them, even if the
// entry is evicted meanwhile. Owns the revalidating thread; the destructor stops it.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "gkfs/status.h"

namespace gkfs {

// Files an I/O node keeps open at most: one descriptor each, two with --pfs-direct-io (a
// second, O_DIRECT one), so at most 512 (the daemon's other descriptors stay well below the
// usual limit of 1024).
constexpr size_t kPfsOpenFiles = 256;
// Idle entries checked for removal behind the cache per pass, and the passes' period.
constexpr size_t kPfsRevalidateBatch = 32;
constexpr double kPfsRevalidateSeconds = 1.0;

class PfsFiles {
 public:
  // An open descriptor; closed when the last holder (cache or caller) drops it.
  struct File {
    explicit File(int fd, bool writable) : fd(fd), writable(writable) {}
    ~File();
    File(const File&) = delete;
    File& operator=(const File&) = delete;
    // A write-only O_DIRECT descriptor of this same file (reopened through /proc/self/fd,
    // so a name replaced meanwhile does not matter), opened on first use; -1 if the file
    // system refused O_DIRECT (for good once RefuseDirect() was called).
    int DirectFd();
    void RefuseDirect();
    const int fd;
    const bool writable;
    dev_t dev = 0;
    ino_t ino = 0;

   private:
    std::mutex direct_mu_;
    int direct_fd_ = -1;          // GUARDED_BY(direct_mu_)
    bool direct_refused_ = false;  // GUARDED_BY(direct_mu_)
  };

  explicit PfsFiles(size_t capacity = kPfsOpenFiles);
  ~PfsFiles();
  PfsFiles(const PfsFiles&) = delete;
  PfsFiles& operator=(const PfsFiles&) = delete;

  // A descriptor of `real` (a file or directory), writable if `write`. Errors are open(2)'s
  // or stat(2)'s errno, naming `name` (the path the client used); a name that no longer
  // exists also closes its cached descriptor.
  Status Get(const std::string& real, const std::string& name, bool write, std::shared_ptr<File>* out);
  // Drops `real` and, with `tree`, every path below it (a directory renamed or removed).
  void Forget(const std::string& real, bool tree = false);
  size_t size();

 private:
  struct Entry {
    std::string path;
    std::shared_ptr<File> file;
    double checked = 0;  // when a Get or a pass last saw the file still named
  };
  // REQUIRES: mu_ held.
  void Erase(std::list<Entry>::iterator it);
  // One pass: closes the entries whose file was removed behind the cache (st_nlink == 0),
  // checking at most kPfsRevalidateBatch idle ones, least recently used first.
  // EXCLUDES: mu_.
  void Revalidate(double now);
  // The revalidating thread: a pass every kPfsRevalidateSeconds until the destructor.
  void RevalidateLoop();
  static Status Open(const std::string& real, const std::string& name, bool write, std::shared_ptr<File>* out);

  const size_t capacity_;
  std::mutex mu_;
  std::list<Entry> lru_;                                                 // GUARDED_BY(mu_), newest first
  std::unordered_map<std::string, std::list<Entry>::iterator> by_path_;  // GUARDED_BY(mu_)
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;        // GUARDED_BY(stop_mu_)
  std::thread revalidator_;  // last: starts once the members above exist
};

}  // namespace gkfs
