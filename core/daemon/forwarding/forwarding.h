// ForwardingProvider: what a daemon in forwarding mode (an I/O node, GekkoFWD) serves
// instead of the metadata and chunk providers: the clients' files as ordinary files under
// the PFS directory, reads and writes through the scheduled IoQueue. Owns both. Built only
// with ENABLE_FORWARDING; without it Create fails with a message saying so.
#pragma once

#include <memory>
#include <vector>

#include "daemon/handlers.h"
#include "gkfs/daemon.h"

namespace gkfs {

class ForwardingProvider {
 public:
  static Status Create(const DaemonOptions& options, transport::Server* server,
                       std::unique_ptr<ForwardingProvider>* out);
  virtual ~ForwardingProvider() = default;
  // Serves one request (all verbs; those of the normal mode get EOPNOTSUPP).
  virtual void Handle(Providers& common, const Request& req, Response* out) = 0;
  // The I/O queue's counters (what FwdStats replies). Thread-safe.
  virtual void Statistics(rpc::FwdStatsReply* totals, std::vector<rpc::AppStats>* apps) = 0;
};

}  // namespace gkfs
