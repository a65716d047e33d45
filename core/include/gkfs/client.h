// Client: one process's view of a gkfs file system. Owns the UCX transport state and the
// endpoints to every daemon (created lazily). All methods are thread-safe, and calls of
// different threads run concurrently (up to 8 at once, each on a transport of its own; more
// wait for one): a thread waiting on a slow or silent daemon does not hold up the others.
// Paths are file-system-internal absolute paths ("/",
// "/a/b"): normalised, no trailing slash, no "." or ".." components (see gkfs::NormalizePath).
//
// Errors are Status values whose code is the errno a local file system would give
// (ENOENT, EEXIST, ENOTDIR, EISDIR, ENOTEMPTY, ENAMETOOLONG, ...); an unreachable daemon
// gives EHOSTDOWN after the configured timeout, a transport failure EIO.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gkfs/metadata.h"
#include "gkfs/status.h"

namespace gkfs {

// The caller's identity, for the directory permission checks the client core makes with
// the records an operation fetches anyway: search permission on the parent directory of an
// entry created, removed or renamed, write permission when the entry is really added or
// removed, and the sticky bit. Asked from the calling thread, during the operation.
class Credentials {
 public:
  virtual ~Credentials() = default;
  // access(2) by the effective ids: may the caller `mask` (R_OK | W_OK | X_OK) the object?
  virtual bool MayAccess(const Metadata& md, int mask) const = 0;
  // Whether the caller owns the object or is privileged (exempt from the sticky bit).
  virtual bool Owns(const Metadata& md) const = 0;
  // Whether the caller may do all of the above anyway (root): no checks, no extra lookups.
  virtual bool Privileged() const = 0;
};

// The credentials of a fixed identity (uid, effective gid, supplementary groups), by Linux's
// rules (core/common/access.h); uid 0 is privileged. What gkfs.Client checks with when it is
// given an identity.
std::unique_ptr<Credentials> NewIdentityCredentials(uint32_t uid, uint32_t gid, std::vector<uint32_t> groups);

struct ClientOptions {
  std::string hosts_file;      // GekkoFS hosts file: "host uri" per line
  int timeout_ms = 5000;       // a call idle (no network progress) this long fails, EHOSTDOWN
  // A daemon that timed out is marked down: calls needing it fail at once (EHOSTDOWN) until
  // the first call after down_recheck_ms rechecks it, waiting at most recheck_timeout_ms
  // (docs/operations.md, "Failures").
  int down_recheck_ms = 5000;
  int recheck_timeout_ms = 1000;
  std::string secret_file;     // the instance secret; empty: <hosts_file>.secret if it exists
  // The secret file's contents, when the caller read them itself; used instead of reading
  // secret_file (the preload library reads them at start-up, so that a program that gives
  // up root before its first gkfs call can still connect).
  std::string secret;
  uint32_t app_id = 0;         // application id sent with every request (scheduling, metrics)
  // Forwarding mode: every operation goes to the I/O node this map names for `hostname`
  // (empty: gethostname). EINVAL naming the file and line for a bad map; ENOTSUP in a
  // build without forwarding.
  std::string forwarding_map_file;
  std::string hostname;
  // Directory permissions are checked against these (the preload's); none: nothing is
  // checked (gkfs.Client). Must outlive the Client.
  const Credentials* credentials = nullptr;
  // Renew the sessions of counted opens (OpenFile with an opener) from a thread of the
  // Client, every third of the daemons' session lease, until they are released. Off: the
  // caller renews them (Renew), as the preload does from its own registry of open files.
  bool renew_sessions = true;
};

// What a daemon tells a client at connect time (GekkoFS's fs_config).
struct FsConfig {
  uint64_t chunk_size = 0;
  std::string mountdir;
  std::string rootdir;
  uint32_t protocol_version = 0;
  uint32_t num_daemons = 0;    // daemons listed in the hosts file
  bool auto_sm = false;        // daemons offer shared memory to clients on their host
  uint64_t device_id = 0;      // st_dev of its files (FileSystemDevice of the mount directory)
  uint32_t session_lease_ms = 0;  // see Client::Renew
  std::string pfs_dir;         // forwarding mode: the I/O nodes' PFS directory (the direct route's)
};

struct DirEntry {
  std::string name;            // one path component, never "." or ".."
  uint8_t type = 0;            // DT_REG, DT_DIR, DT_LNK, DT_FIFO, DT_CHR, DT_BLK, DT_SOCK
  uint64_t ino = 0;            // the inode it names (d_ino, st_ino)
};

struct FsStats {               // statfs(2) of the whole file system: sums over daemons
  uint64_t block_size = 4096;
  uint64_t total_bytes = 0;
  uint64_t free_bytes = 0;
  uint64_t files = 0;
};

struct DaemonInfo {
  std::string host;
  std::string uri;
  bool up = false;
  std::string error;           // why it is down, when it is
  std::string version;
  uint64_t files = 0;          // metadata records held
  uint64_t chunk_bytes = 0;    // bytes in chunk files
  uint64_t total_bytes = 0;    // capacity of the rootdir's file system
  uint64_t free_bytes = 0;
  uint64_t orphans = 0;        // files unlinked while open, kept until their last close
  uint64_t syncs = 0;          // Sync requests served since the daemon started
  bool shared_memory = false;  // this client reaches it over shared memory (--auto-sm)
};

// What Client::Sync makes durable, after the libc call it backs.
enum class SyncLevel : uint8_t {
  kFile,      // fsync(2): the file's data and its metadata (size, times, owner, mode)
  kData,      // fdatasync(2): the same; chunk files by fdatasync (their own times may lag)
  kDataOnly,  // sync_file_range(2): the file's data alone, not its metadata
};

struct AppIoStats {            // one application's traffic through one I/O node
  uint32_t app_id = 0;
  uint64_t requests = 0, bytes = 0, reads = 0, writes = 0;
  uint64_t units = 0;          // PFS operations; requests - units were merged away
  double queue_wait_s = 0;     // summed over requests
  double service_s = 0;        // summed over requests
};

struct IoNodeStats {           // forwarding mode: an I/O node's scheduler queue
  uint64_t pending = 0;        // queued, not yet in service
  uint64_t in_service = 0;
  uint64_t scheduler_errors = 0;  // calls where the scheduler's answer was unusable
  std::vector<AppIoStats> apps;
};

class Client {
 public:
  // Reads the hosts file and fetches FsConfig from the first daemon.
  // Errors: EINVAL/ENOENT for a missing, empty or malformed hosts file (message names the
  // file and line); EHOSTDOWN when no daemon answers within timeout_ms.
  static Status Connect(const ClientOptions& options, std::unique_ptr<Client>* out);
  virtual ~Client() = default;

  virtual const FsConfig& config() const = 0;

  // Creates a regular file (S_IFREG is added to mode). exclusive: EEXIST if it exists;
  // otherwise an existing file is left as it is and its metadata returned. *created (may
  // be null) tells whether this call made the file.
  //
  // Creating and removing entries (Create, Mkdir, Symlink, Remove, Rmdir, Rename) sets the
  // parent directory's mtime and ctime, in the same round trip as the operation; a call
  // that changed nothing (an existing file, an error) puts them back. With credentials
  // (ClientOptions) they also fail with EACCES without search permission on the parent,
  // or without write permission when they add or remove the entry, and with EPERM when the
  // parent's sticky bit protects the entry; what such a call already did is undone.
  virtual Status Create(const std::string& path, uint32_t mode, bool exclusive, Metadata* md,
                        bool* created) = 0;
  virtual Status Stat(const std::string& path, Metadata* md) = 0;
  // Symbolic links, as the kernel's path walk (common/link_walk.h, the code the preload
  // uses): *resolved is path with the links among its ancestors followed, and its last
  // component's too when follow_last; absolute targets are read as the mount directory's
  // users see them (config().mountdir). *md is what it names; a missing last component is
  // OK with *exists false (what a create would make). One stat when no link is involved,
  // else one per name the walk meets (a miss: the name and its ancestors).
  // Errors: ENOENT, ENOTDIR for an ancestor; ELOOP past 40 links; ENOENT (naming the
  // target) for a link that leads out of the file system.
  virtual Status Resolve(const std::string& path, bool follow_last, std::string* resolved, Metadata* md,
                         bool* exists) = 0;
  // open(2)'s lookup: Create (create: mode, exclusive as Create) or Stat of path, which the
  // home of a regular file counts as an open by session `opener` (!= 0) until Release. A
  // file whose last name goes while it is open keeps its inode and data (nlink 0) until its
  // last open is released, as Linux keeps an unlinked file open, or until the session stops
  // renewing its lease (ClientOptions::renew_sessions, Renew).
  virtual Status OpenFile(const std::string& path, bool create, uint32_t mode, bool exclusive, uint64_t opener,
                          Metadata* md, bool* created) = 0;
  // Session `opener` holds no descriptor of these inodes any more (one Release per open that
  // OpenFile counted); orphans released for good lose their chunks.
  virtual Status Release(uint64_t opener, const std::vector<uint64_t>& inos) = 0;
  // Session `opener` is alive and holds these counted opens (an inode once per open not yet
  // released): each home starts the session's lease again. A session that renews nothing
  // for config().session_lease_ms loses its opens (a killed process: its orphans go);
  // renew every third of it while opens are held. A home that restarted counts them anew.
  virtual Status Renew(uint64_t opener, const std::vector<uint64_t>& inos) = 0;
  // Removes a regular file or symlink and its chunks. EISDIR for a directory.
  virtual Status Remove(const std::string& path) = 0;
  // Remove, also ending opens of session `opener` that were not released yet (*owed, as
  // Release takes them): those whose home is the daemon the removal goes to travel with it
  // (in its request, or beside it in the same round trip) and leave *owed; the rest stay
  // for a later Release. A file the session closed and now removes goes at once.
  virtual Status RemoveReleasing(const std::string& path, uint64_t opener, std::vector<uint64_t>* owed) = 0;
  virtual Status Mkdir(const std::string& path, uint32_t mode) = 0;
  // Creates a symbolic link at path pointing to target (stored as given, not resolved:
  // link resolution is the caller's, e.g. the preload's). EEXIST if path exists.
  virtual Status Symlink(const std::string& path, const std::string& target) = 0;
  // mknod(2): a regular file, FIFO, socket, or character or block device node (rdev) as a
  // record; EINVAL for another type, EEXIST if path exists.
  virtual Status Mknod(const std::string& path, uint32_t mode, uint64_t rdev) = 0;
  // link(2): new_path becomes another name of old_path's inode (not following a symlink at
  // old_path). EPERM for a directory, EEXIST if new_path exists; the inode's link count and
  // ctime change.
  virtual Status Link(const std::string& old_path, const std::string& new_path) = 0;
  // ENOTEMPTY if any daemon holds a child; ENOTDIR if not a directory.
  virtual Status Rmdir(const std::string& path) = 0;
  // All entries of a directory, merged from every daemon, sorted by name. Paged internally.
  virtual Status ReadDir(const std::string& path, std::vector<DirEntry>* entries) = 0;
  // One page: up to max_entries names > start_after (sorted); *end set when none remain.
  virtual Status ReadDirPage(const std::string& path, const std::string& start_after,
                             size_t max_entries, std::vector<DirEntry>* entries, bool* end) = 0;

  // Operations on an open file address its inode (file_id from its Metadata: the inode id),
  // so they keep working after the file was renamed or unlinked; path is what forwarding
  // mode addresses instead (the PFS knows files by name).
  //
  // Writes len bytes at offset into the file and grows its size, only once the bytes are
  // written (in the same round trip when the inode's home holds every piece written).
  virtual Status Write(const std::string& path, uint64_t file_id, uint64_t offset,
                       const void* buf, size_t len) = 0;
  // O_APPEND: reserves [offset, offset+len) atomically on the metadata owner, then writes.
  virtual Status Append(const std::string& path, uint64_t file_id, const void* buf, size_t len,
                        uint64_t* offset) = 0;
  // Reads up to len bytes at offset; holes read as zeros, *nread < len only at end of file.
  // The file's atime follows Linux's relatime rule (set to now when it is not after mtime
  // or ctime, or is a day old), updated by the metadata owner on the read's size lookup.
  virtual Status Read(const std::string& path, uint64_t file_id, uint64_t offset, void* buf,
                      size_t len, size_t* nread) = 0;
  virtual Status Truncate(const std::string& path, uint64_t size) = 0;
  // fstat, ftruncate, fchmod/fchown/futimens: as Stat, Truncate and SetAttr, on the inode.
  virtual Status StatFile(const std::string& path, uint64_t file_id, Metadata* md) = 0;
  virtual Status TruncateFile(const std::string& path, uint64_t file_id, uint64_t size) = 0;
  virtual Status SetAttrFile(const std::string& path, uint64_t file_id, int64_t mode, int64_t atime_ns,
                             int64_t mtime_ns, int64_t uid, int64_t gid) = 0;
  // Renames a file, symlink or directory (with everything under it). An existing file at
  // new_path is replaced atomically for readers of new_path; an existing empty directory
  // is replaced by a directory. Errors as rename(2): EISDIR, ENOTDIR, ENOTEMPTY, EINVAL
  // (a directory into its own subtree). A directory rename moves one metadata record per
  // entry of the subtree (no data moves: chunks are keyed by file id); it is not atomic
  // against a crash of the client midway.
  virtual Status Rename(const std::string& old_path, const std::string& new_path) = 0;
  // renameat2(RENAME_EXCHANGE): a and b (files, links or directories, of any two types)
  // swap names; each keeps its inode, a directory takes its subtree along. Errors as
  // renameat2(2): ENOENT (either missing), EINVAL (one inside the other). Like a directory
  // rename, not atomic: concurrent lookups may see a name missing or both names naming one
  // side while the entries move.
  virtual Status Exchange(const std::string& a, const std::string& b) = 0;
  // Sets permission bits, times and owner (UTIME_OMIT-style: negative = leave as is); ctime
  // becomes now. No permission checks here: the caller decides who may (the preload does).
  virtual Status SetAttr(const std::string& path, int64_t mode, int64_t atime_ns, int64_t mtime_ns,
                         int64_t uid, int64_t gid) = 0;
  virtual Status StatFs(FsStats* stats) = 0;
  // One round trip to daemon `daemon` carrying `send_bytes` bytes of `payload` and
  // returning `reply_bytes` bytes into `reply` (may be null when reply_bytes is 0).
  // Measures the transport alone (benchmarks); EINVAL for a bad daemon index.
  virtual Status Ping(uint32_t daemon, const void* payload, size_t send_bytes, void* reply,
                      size_t reply_bytes) = 0;
  // Forwarding mode: the queue and per-application metrics of I/O node `daemon`.
  // EOPNOTSUPP from a daemon not in forwarding mode.
  virtual Status IoNodeStatistics(uint32_t daemon, IoNodeStats* stats) = 0;
  // Daemon `daemon`'s metrics in the Prometheus text format (what its /metrics serves).
  virtual Status Metrics(uint32_t daemon, std::string* text) = 0;
  // Health of every daemon in the hosts file; never fails as a whole for a down daemon.
  virtual Status Daemons(std::vector<DaemonInfo>* infos) = 0;

  // Makes the file's data written so far (by any client) durable on the daemons' storage,
  // and with kFile and kData its metadata: each daemon fsyncs the file's chunk files written
  // since their last sync, and the file's metadata owner syncs its metadata log. One round
  // of parallel requests (repeated only for a daemon still busy after half the timeout).
  // file_id 0, a directory: the metadata log of every daemon (entries live with their
  // paths' owners). With --sync-mode none the daemons answer at once. Errors: what a
  // daemon's disk reported (EIO, ENOSPC, ...); EHOSTDOWN for an unreachable daemon that may
  // hold part of the file (one that holds none of it does not fail the call).
  virtual Status Sync(const std::string& path, uint64_t file_id, SyncLevel level) = 0;
  // syncfs(2) of the whole file system: every daemon syncs all its chunk files and its
  // metadata log.
  virtual Status SyncFs() = 0;
};

// Normalises an absolute path: collapses "//", resolves "." and ".." lexically, strips a
// trailing "/". Errors: EINVAL if not absolute, ENAMETOOLONG past PATH_MAX or a component
// past NAME_MAX.
Status NormalizePath(const std::string& path, std::string* out);

// Version string of this build ("0.1.0").
const char* Version();

}  // namespace gkfs
