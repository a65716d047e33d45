// Liveness: which daemons a client found silent, and when to look at them again. A daemon
// that let a call time out (no network progress for the client timeout) is down: calls that
// need it fail at once with EHOSTDOWN instead of each waiting the timeout again, until a
// recheck answers. The first call that needs it once `recheck_after` has passed since it was
// marked down runs that recheck (a ping with a short timeout, see ClientTransport); an answer
// of any kind (a reply, or the host refusing the connection) clears the mark, silence marks
// it down for another `recheck_after`. Pure bookkeeping over times the caller passes in, so
// the rule is tested without a network. Thread-safe: the transports of one client (one per
// thread in a call, TransportPool) share it, so a daemon one thread found silent fails the
// other threads' calls at once too. Check() of a daemon that is up (the common case, on
// every call) reads one atomic flag and takes no lock.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gkfs/status.h"

namespace gkfs::transport {

class Liveness {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Verdict {
    kUp,       // send the call
    kDown,     // fail it at once (DownStatus)
    kRecheck,  // the recheck is due: hold the call until a recheck of the daemon answers
  };

  Liveness() = default;
  Liveness(size_t daemons, std::chrono::milliseconds recheck_after);

  // What a call to `daemon` does at `now`. REQUIRES: daemon < the count given.
  Verdict Check(uint32_t daemon, Clock::time_point now) const;
  // `daemon` did not answer (a call or a recheck timed out) at `now`: down, rechecked at
  // the first call from now + recheck_after on. `why` goes into DownStatus.
  void MarkDown(uint32_t daemon, Clock::time_point now, const std::string& why);
  // `daemon` answered: calls go to it again.
  void MarkUp(uint32_t daemon);
  bool IsDown(uint32_t daemon) const;
  // EHOSTDOWN for a call failed at once: why the daemon is down and when it is rechecked.
  Status DownStatus(uint32_t daemon, Clock::time_point now) const;

 private:
  struct State {
    bool down = false;
    Clock::time_point recheck_at;
    std::string why;
  };
  // down_[d] mirrors daemons_[d].down: written under mu_, read without it by Check()'s
  // fast path (a daemon marked down meanwhile is seen by the next call).
  std::unique_ptr<std::atomic<bool>[]> down_;
  mutable std::mutex mu_;
  std::vector<State> daemons_;  // GUARDED_BY(mu_)
  std::chrono::milliseconds recheck_after_{0};
};

}  // namespace gkfs::transport
