// Monotonic time in nanoseconds, for intervals and ages (never the time of day: it does not
// jump when the clock is set).
#pragma once

#include <time.h>

#include <cstdint>

namespace gkfs {

inline int64_t MonotonicNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace gkfs
