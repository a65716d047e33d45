// TransportPool: the ClientTransports of one client, so that its threads' calls run
// concurrently. A ClientTransport is single-threaded (one UCX worker, its own endpoints); a
// thread leases one for each group of calls it runs and gives it back after, so a thread
// never waits for another's calls, only for a free transport. Transports are made on demand
// (a clone of the first: same daemons, options and shared liveness), at most `max`; a thread
// past that waits until one is given back. A transport that cannot be made (UCX out of
// resources) is not an error: the thread waits for one of those already made.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "transport/client_transport.h"

namespace gkfs::transport {

class TransportPool {
 public:
  TransportPool(std::unique_ptr<ClientTransport> first, size_t max);

  class Lease {
   public:
    Lease(TransportPool* pool, std::unique_ptr<ClientTransport> t) : pool_(pool), t_(std::move(t)) {}
    Lease(Lease&&) = default;
    ~Lease() {
      if (t_ != nullptr) pool_->GiveBack(std::move(t_));
    }
    ClientTransport* operator->() const { return t_.get(); }
    ClientTransport& operator*() const { return *t_; }

   private:
    TransportPool* pool_;
    std::unique_ptr<ClientTransport> t_;
  };

  // A transport for this thread's next calls; waits while `max` are leased.
  Lease Acquire();
  int timeout_ms() const { return timeout_ms_; }

 private:
  void GiveBack(std::unique_ptr<ClientTransport> t);

  mutable std::mutex mu_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<ClientTransport>> idle_;  // GUARDED_BY(mu_)
  size_t made_ = 0;                                     // GUARDED_BY(mu_)
  // At most this many: `max`, or fewer once one could not be made. GUARDED_BY(mu_)
  size_t limit_;
  bool making_ = false;  // a thread is making one (GUARDED_BY(mu_)); others wait for it
  const ClientTransport* model_;  // the first: what the others are cloned from
  const int timeout_ms_;
};

}  // namespace gkfs::transport
