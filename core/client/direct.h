// DirectPfs: the direct route of a client whose host the forwarding map sends to no I/O
// node (`host direct`). It answers the calls addressed to Routing::kDirect in the calling
// thread, through the daemon's one handler table over a PFS namespace of its own on the
// I/O nodes' PFS directory (ForwardingProvider::CreateDirect), so every verb is decoded,
// checked and answered as an I/O node would. Built on first use; thread-safe (the PFS
// store is).
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "daemon/handlers.h"
#include "transport/client_transport.h"

namespace gkfs {

class DirectPfs {
 public:
  DirectPfs();
  ~DirectPfs();
  // Runs call as the handler table would on an I/O node over pfs_dir and fills its outputs
  // (status, reply body, payload into the sink or payload_in). An unusable pfs_dir (empty:
  // the I/O nodes named none) fails the call with EIO naming it.
  void Run(const std::string& pfs_dir, transport::Call* call);

 private:
  Status Ready(const std::string& pfs_dir);
  std::mutex mu_;
  std::unique_ptr<ForwardingProvider> provider_;  // GUARDED_BY(mu_) until built, then fixed
  Providers providers_{};
  Status broken_;                                 // why it could not be built
};

}  // namespace gkfs
