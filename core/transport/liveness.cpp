#include "transport/liveness.h"

#include <cerrno>

namespace gkfs::transport {

Liveness::Liveness(size_t daemons, std::chrono::milliseconds recheck_after)
    : down_(new std::atomic<bool>[daemons]()), daemons_(daemons), recheck_after_(recheck_after) {}

Liveness::Verdict Liveness::Check(uint32_t daemon, Clock::time_point now) const {
  if (!down_[daemon].load(std::memory_order_acquire)) return Verdict::kUp;
  std::lock_guard<std::mutex> l(mu_);
  const State& d = daemons_[daemon];
  if (!d.down) return Verdict::kUp;
  return now >= d.recheck_at ? Verdict::kRecheck : Verdict::kDown;
}

void Liveness::MarkDown(uint32_t daemon, Clock::time_point now, const std::string& why) {
  std::lock_guard<std::mutex> l(mu_);
  State& d = daemons_[daemon];
  d.down = true;
  d.recheck_at = now + recheck_after_;
  d.why = why;
  down_[daemon].store(true, std::memory_order_release);
}

void Liveness::MarkUp(uint32_t daemon) {
  std::lock_guard<std::mutex> l(mu_);
  daemons_[daemon] = State();
  down_[daemon].store(false, std::memory_order_release);
}

bool Liveness::IsDown(uint32_t daemon) const {
  std::lock_guard<std::mutex> l(mu_);
  return daemons_[daemon].down;
}

Status Liveness::DownStatus(uint32_t daemon, Clock::time_point now) const {
  std::lock_guard<std::mutex> l(mu_);
  const State& d = daemons_[daemon];
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(d.recheck_at - now).count();
  return Status::Error(EHOSTDOWN, d.why + "; marked down, calls to it fail at once until it "
                                          "answers a recheck (next in " +
                                      std::to_string(left > 0 ? left : 0) + " ms)");
}

}  // namespace gkfs::transport
