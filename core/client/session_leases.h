// SessionLeases: the opens a Client counted for each session (OpenFile with an opener) and
// has not released, and the thread that renews them (Client::Renew) every third of the
// daemons' session lease while any are held, so that a live client's unlinked files are
// never reclaimed, and a killed one's are. Owns that thread (started at the first count,
// joined by the destructor). Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "gkfs/status.h"

namespace gkfs {

class SessionLeases {
 public:
  using RenewFn = std::function<Status(uint64_t opener, const std::vector<uint64_t>& inos)>;
  // renew sends one renewal; period_ms > 0.
  SessionLeases(RenewFn renew, int64_t period_ms) : renew_(std::move(renew)), period_ms_(period_ms) {}
  ~SessionLeases();

  void Opened(uint64_t opener, uint64_t ino);
  void Released(uint64_t opener, const std::vector<uint64_t>& inos);

 private:
  void Loop();

  const RenewFn renew_;
  const int64_t period_ms_;
  std::mutex mu_;
  std::condition_variable wake_;
  // opener -> ino -> opens counted and not released
  std::map<uint64_t, std::unordered_map<uint64_t, uint32_t>> held_;  // GUARDED_BY(mu_)
  bool stop_ = false;     // GUARDED_BY(mu_)
  std::thread thread_;    // started by the first Opened
  int owner_pid_ = 0;     // the process that started it (a forked child has no such thread)
};

}  // namespace gkfs
