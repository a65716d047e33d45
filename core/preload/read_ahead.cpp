// The opt-in read-ahead window of an open file description.
#include "preload/read_ahead.h"

#include <atomic>
#include <cstring>

namespace gkfs::preload {

namespace {
// Bumped after every change of file data by this process; a window fetched at an older
// value is not used. Starts at 1 so that an unfilled window (epoch 0) never matches.
std::atomic<uint64_t> g_write_epoch{1};
}  // namespace

void ReadAhead::DataChanged() { g_write_epoch.fetch_add(1, std::memory_order_acq_rel); }

Status ReadAhead::Read(size_t window_bytes, uint64_t offset, void* buf, size_t len, size_t* got,
                       const Fetch& fetch) {
  *got = 0;
  // A window busy in another thread (a fetch under way) is passed by: this read asks the
  // daemons itself. Nor does a child forked while another thread held the lock wait forever.
  std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
  if (!lock.owns_lock()) return fetch(offset, buf, len, got);
  const uint64_t epoch = g_write_epoch.load(std::memory_order_acquire);
  const uint64_t end = start_ + size_;
  // A hit: the range lies inside the window, or runs to the end of file the window saw.
  // A read at or past that end asks again: the file may have grown since.
  if (epoch == epoch_ && offset >= start_ && offset < end && (offset + len <= end || at_end_)) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(len, end - offset));
    std::memcpy(buf, data_.get() + (offset - start_), n);
    *got = n;
    next_ = offset + n;
    return Status::OK();
  }
  // Sequential: where the last read ended, or a skip forward that a window from there
  // would have covered (strided reads, e.g. one rank's blocks of a shared file).
  const bool sequential = offset == 0 || (offset >= next_ && offset - next_ < window_bytes);
  if (!sequential || len >= window_bytes) {
    Status s = fetch(offset, buf, len, got);
    if (s.ok()) next_ = offset + *got;
    return s;
  }
  // The epoch is read before the fetch: a write that lands meanwhile moves it on, and the
  // window it may have missed is never used.
  if (capacity_ != window_bytes) {
    data_.reset(new char[window_bytes]);
    capacity_ = window_bytes;
  }
  size_t fetched = 0;
  Status s = fetch(offset, data_.get(), window_bytes, &fetched);
  if (!s.ok()) {
    size_ = 0;
    epoch_ = 0;
    return s;
  }
  size_ = fetched;
  start_ = offset;
  at_end_ = fetched < window_bytes;
  epoch_ = epoch;
  size_t n = std::min(len, fetched);
  std::memcpy(buf, data_.get(), n);
  *got = n;
  next_ = offset + n;
  return Status::OK();
}

}  // namespace gkfs::preload
