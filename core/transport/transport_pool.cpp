#include "transport/transport_pool.h"

#include <algorithm>

#include "common/log.h"

namespace gkfs::transport {

TransportPool::TransportPool(std::unique_ptr<ClientTransport> first, size_t max)
    : limit_(std::max<size_t>(max, 1)), model_(first.get()), timeout_ms_(first->timeout_ms()) {
  idle_.push_back(std::move(first));
  made_ = 1;
}

TransportPool::Lease TransportPool::Acquire() {
  std::unique_lock<std::mutex> l(mu_);
  while (true) {
    if (!idle_.empty()) {
      std::unique_ptr<ClientTransport> t = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(t));
    }
    if (made_ < limit_ && !making_) break;
    returned_.wait(l);
  }
  // Make one more, outside the lock (a UCX context and worker take milliseconds), from a
  // transport's immutable parts: any transport may be leased while it is cloned.
  making_ = true;
  const ClientTransport* model = model_;
  l.unlock();
  std::unique_ptr<ClientTransport> t;
  Status s = model->Clone(&t);
  l.lock();
  making_ = false;
  if (s.ok()) {
    ++made_;
    returned_.notify_all();  // let a waiter try to make the next one
    return Lease(this, std::move(t));
  }
  limit_ = made_;  // do not try again: wait for the ones there are
  GKFS_LOG(kInfo, "cannot make another transport for concurrent calls (" + s.message() +
                      "); this process's calls share the " + std::to_string(made_) + " made");
  returned_.wait(l, [this] { return !idle_.empty(); });
  t = std::move(idle_.back());
  idle_.pop_back();
  return Lease(this, std::move(t));
}

void TransportPool::GiveBack(std::unique_ptr<ClientTransport> t) {
  {
    std::lock_guard<std::mutex> l(mu_);
    idle_.push_back(std::move(t));
  }
  returned_.notify_one();
}

}  // namespace gkfs::transport
