// The built-in IoScheduler: arrival order, merging each request with the contiguous ones of
// the same file and kind that follow it in the queue (AGIOS's TO-agg), up to the cap.
#include <algorithm>
#include <set>

#include "gkfs/scheduler.h"

namespace gkfs {
namespace {

class FifoScheduler : public IoScheduler {
 public:
  explicit FifoScheduler(uint32_t max_aggregation) : max_(max_aggregation ? max_aggregation : 1) {}
  uint32_t max_aggregation() const override { return max_; }

  Status Schedule(double now, const IoQueues& queues, int limit,
                  std::vector<std::vector<uint64_t>>* batch, double* sleep) override {
    // All pending requests by arrival (ids grow with arrival).
    std::vector<const IoRequestInfo*> order;
    for (const auto& [queue, requests] : queues) {
      for (const auto& r : requests) order.push_back(&r);
    }
    std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->id < b->id; });
    std::set<uint64_t> taken;
    for (size_t i = 0; i < order.size() && static_cast<int>(batch->size()) < limit; ++i) {
      const IoRequestInfo* head = order[i];
      if (taken.count(head->id)) continue;
      std::vector<uint64_t> unit{head->id};
      taken.insert(head->id);
      uint64_t end = head->offset + head->length;
      for (size_t j = i + 1; j < order.size() && unit.size() < max_; ++j) {
        const IoRequestInfo* next = order[j];
        if (taken.count(next->id) || next->queue_id != head->queue_id || next->kind != head->kind ||
            next->offset != end) {
          continue;
        }
        unit.push_back(next->id);
        taken.insert(next->id);
        end += next->length;
      }
      batch->push_back(std::move(unit));
    }
    *sleep = -1;
    return Status::OK();
  }
  void OnComplete(const std::vector<IoUnitStats>& stats) override {}

 private:
  uint32_t max_;
};

}  // namespace

std::shared_ptr<IoScheduler> NewFifoScheduler(uint32_t max_aggregation) {
  return std::make_shared<FifoScheduler>(max_aggregation);
}

}  // namespace gkfs
