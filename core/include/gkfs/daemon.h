// Daemon: one gkfs server process's providers (metadata, data, management) and its UCX
// engine. Owns RocksDB, the chunk store and the progress thread. Run() blocks the calling
// thread until Shutdown() is called from any thread (or a signal handler via RequestStop).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "gkfs/scheduler.h"
#include "gkfs/status.h"

namespace gkfs {

// What fsync(2) and its relatives of a client cost on a daemon (--sync-mode).
enum class SyncMode {
  kFull,  // chunk files written since their last sync are fsynced, the metadata WAL synced
  kNone,  // nothing: a sync is answered at once (scratch data; a crash of the node or a
          // power loss may lose what the page cache held, fsync or not)
};

struct DaemonOptions {
  std::string mountdir = "/tmp/gkfs_mountdir";  // advertised to clients in fs_config
  std::string rootdir;           // chunks under <rootdir>/chunks
  std::string metadir;           // RocksDB; default <rootdir>/metadata
  std::string listen = "127.0.0.1";  // address (or interface name) to listen on
  uint16_t port = 0;             // 0: pick a free port
  std::string hosts_file;        // appended "host uri" once ready; empty: do not write
  std::string protocol = "ucx+tcp";
  uint64_t chunk_size = 512 * 1024;  // REQUIRES: power of two, >= 4096
  bool clean_rootdir = false;    // wipe rootdir/metadir before start
  bool clean_rootdir_finish = false;  // wipe them after shutdown
  bool use_memory_backend = false;    // metadata in memory instead of RocksDB (tests)
  std::string secret_file;       // requests must carry this instance secret; empty: none
  bool auto_sm = false;          // clients on this host may also use shared memory

  // Forwarding mode (GekkoFWD): serve clients' files as ordinary files under pfs_dir,
  // reads and writes ordered by `scheduler` (NewFifoScheduler when null). Fails at Create
  // in a build without ENABLE_FORWARDING.
  bool enable_forwarding = false;
  std::string pfs_dir;
  std::shared_ptr<IoScheduler> scheduler;
  // Forwarding mode: write units whose offset and length are multiples of 4 KiB with
  // O_DIRECT (page cache bypassed; the page cache where the file system refuses it).
  bool pfs_direct_io = false;
  // Threads for large chunk reads and writes (>= 128 KiB; smaller ones stay on the network
  // thread); 0: none. Forwarding mode: PFS operations in flight at once (the scheduler's
  // limit), at least 1.
  int io_threads = 2;
  SyncMode sync_mode = SyncMode::kFull;
  // A client session's counted opens (files it holds open, which an unlink keeps as
  // orphans) are dropped this long after the session was last heard of (an open, a close,
  // a renewal, which clients send every third of it); orphans it alone held are then
  // reclaimed, chunks included, through the hosts file (docs/operations.md).
  double session_lease_s = 30.0;

  // Prometheus: serve GET /metrics on listen:metrics_port (0: no HTTP server), and/or push
  // the same text to the Pushgateway at prometheus_gateway ("host:port"; empty: no push)
  // every push_interval_s seconds and once at shutdown.
  uint16_t metrics_port = 0;
  std::string prometheus_gateway;
  double push_interval_s = 5.0;
};

class Daemon {
 public:
  // Validates options, opens the backends, starts listening. Does not write the hosts file.
  static Status Create(const DaemonOptions& options, std::unique_ptr<Daemon>* out);
  virtual ~Daemon() = default;

  // The URI clients use ("ucx+tcp://127.0.0.1:40001").
  virtual std::string uri() const = 0;
  // Appends "host uri" to the hosts file (if configured), logs readiness, serves until
  // Shutdown(); then closes backends (and cleans rootdir if asked).
  virtual Status Run() = 0;
  // Thread- and signal-safe: asks Run() to return.
  virtual void Shutdown() = 0;
};

}  // namespace gkfs
