// The built-in IoScheduler: arrival order, merging each request with the contiguous ones of
// the same file and kind before and after it (AGIOS's TO-agg), up to the cap.
#include <algorithm>
#include <deque>
#include <map>
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
    for (const IoRequestInfo* head : order) {
      if (static_cast<int>(batch->size()) >= limit) break;
      if (taken.count(head->id)) continue;
      batch->push_back(Grow(*head, queues.at(head->queue_id), &taken));
    }
    *sleep = -1;
    return Status::OK();
  }
  void OnComplete(const std::vector<IoUnitStats>& stats) override {}

 private:
  // The oldest request with the untaken contiguous requests of its file and kind on both
  // sides of it, nearest first, up to max_; returned in offset order.
  std::vector<uint64_t> Grow(const IoRequestInfo& head, const std::vector<IoRequestInfo>& queue,
                             std::set<uint64_t>* taken) const {
    std::map<uint64_t, const IoRequestInfo*> by_start, by_end;
    for (const auto& r : queue) {
      if (r.kind == head.kind && r.id != head.id && !taken->count(r.id)) {
        by_start.emplace(r.offset, &r);
        by_end.emplace(r.offset + r.length, &r);
      }
    }
    std::deque<const IoRequestInfo*> unit{&head};
    taken->insert(head.id);
    bool grew = true;
    while (grew && unit.size() < max_) {
      grew = false;
      auto after = by_start.find(unit.back()->offset + unit.back()->length);
      if (after != by_start.end() && !taken->count(after->second->id)) {
        unit.push_back(after->second);
        taken->insert(after->second->id);
        grew = true;
      }
      auto before = by_end.find(unit.front()->offset);
      if (unit.size() < max_ && before != by_end.end() && !taken->count(before->second->id)) {
        unit.push_front(before->second);
        taken->insert(before->second->id);
        grew = true;
      }
    }
    std::vector<uint64_t> ids;
    for (const IoRequestInfo* r : unit) ids.push_back(r->id);
    return ids;
  }

  uint32_t max_;
};

}  // namespace

std::shared_ptr<IoScheduler> NewFifoScheduler(uint32_t max_aggregation) {
  return std::make_shared<FifoScheduler>(max_aggregation);
}

}  // namespace gkfs
