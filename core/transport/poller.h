// Poller: progresses a network Worker and, with --auto-sm, a local (shared-memory) Worker
// from one thread, and blocks on both when idle. A turn of the local worker costs no system
// call, a turn of the network worker does (tcp polls its sockets with epoll_wait), and on
// the 2-core machines those calls were most of a small request's cost. So while a local
// worker exists the network worker is progressed on every turn only while it is busy (it
// made progress within the last kNetHotTurns turns, or the caller awaits something on it),
// otherwise on every kNetStride-th turn: that bounds the delay a spinning loop adds to a
// network message to a few microseconds. Without a local worker every turn progresses the
// network worker. Owns its epoll set, not the workers. Thread model: as Worker's.
#pragma once

#include "transport/worker.h"

namespace gkfs::transport {

class Poller {
 public:
  static constexpr unsigned kNetStride = 64;
  static constexpr unsigned kNetHotTurns = 64;

  // local may be null. Both must outlive the Poller.
  Poller(Worker* net, Worker* local);
  ~Poller();
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  // One turn; net_busy: the caller awaits something on the network worker. True if
  // anything happened.
  bool Turn(bool net_busy = false);
  // Progresses both workers until neither reports more work.
  void Drain();
  // Arms both workers and blocks until an event, Signal() or timeout_ms (>= 0) passes.
  // The next turn progresses the network worker (the event may be its).
  void Wait(int timeout_ms);
  // Wakes Wait(); from any thread.
  void Signal();
  // Something was just sent on the network worker: progress it on every turn for a while.
  void MarkNetBusy() { net_hot_ = kNetHotTurns; }

 private:
  Worker* net_;
  Worker* local_;
  int epoll_fd_ = -1;
  unsigned turn_ = 0;
  unsigned net_hot_ = 0;  // turns left in which the network worker is progressed every turn
};

}  // namespace gkfs::transport
