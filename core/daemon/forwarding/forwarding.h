// ForwardingProvider: the providers of a daemon in forwarding mode (an I/O node, GekkoFWD),
// behind the daemon's one handler table: the clients' files as ordinary files under the PFS
// directory, known by path (its MetadataBackend and SyncBackend), and reads and writes
// through the scheduled IoQueue (the FwdWrite and FwdRead verbs). Owns the PFS store and
// the queue. Built only with ENABLE_FORWARDING; without it Create fails saying so.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "daemon/handlers.h"
#include "gkfs/daemon.h"

namespace gkfs {

// OK if pfs_dir names a directory; else EINVAL (empty) or ENOTDIR, naming --pfs-dir.
Status CheckPfsDir(const std::string& pfs_dir);

class ForwardingProvider {
 public:
  static Status Create(const DaemonOptions& options, transport::Server* server,
                       std::unique_ptr<ForwardingProvider>* out);
  // The direct route of a client whose host the map sends to no I/O node: the same PFS
  // namespace and sync over pfs_dir, with reads and writes done at once in the calling
  // thread (no queue, no scheduler, no statistics). Same errors as Create for a bad pfs_dir.
  static Status CreateDirect(const std::string& pfs_dir, std::unique_ptr<ForwardingProvider>* out);
  virtual ~ForwardingProvider() = default;
  // What the metadata and sync verbs' handlers call in forwarding mode. Owned here.
  virtual MetadataBackend* metadata() = 0;
  virtual SyncBackend* sync() = 0;
  // A decoded FwdWrite (FwdRead): queued for the scheduler and answered when its PFS
  // operation completed (out->deferred); an append is done at once (the kernel orders
  // appends). REQUIRES: req is the request `in` was decoded from.
  virtual void Write(const rpc::FwdWriteRequest& in, const Request& req, Response* out) = 0;
  virtual void Read(const rpc::FwdReadRequest& in, const Request& req, Response* out) = 0;
  // The I/O queue's counters (what FwdStats replies). Thread-safe.
  virtual void Statistics(rpc::FwdStatsReply* totals, std::vector<rpc::AppStats>* apps) = 0;
};

}  // namespace gkfs
