#include "client/routing.h"

namespace gkfs {

std::vector<uint32_t> HashRouting::Sharers() {
  std::vector<uint32_t> all(placement_.num_daemons());
  for (uint32_t i = 0; i < all.size(); ++i) all[i] = i;
  return all;
}

IoNodeRouting::IoNodeRouting(ForwardingMap map) : map_(std::move(map)) {
  uint32_t index = 0;
  map_.IoNode(&index);
  current_.store(index);
  next_check_ns_.store(map_.next_check().time_since_epoch().count());
}

uint32_t IoNodeRouting::IoNode() {
  const int64_t now = std::chrono::steady_clock::now().time_since_epoch().count();
  if (now < next_check_ns_.load(std::memory_order_acquire)) return current_.load(std::memory_order_relaxed);
  std::lock_guard<std::mutex> l(map_mu_);
  uint32_t index = 0;
  map_.IoNode(&index);  // cannot fail once a valid map was read: the last good one stays
  current_.store(index, std::memory_order_relaxed);
  next_check_ns_.store(map_.next_check().time_since_epoch().count(), std::memory_order_release);
  return index;
}

}  // namespace gkfs
