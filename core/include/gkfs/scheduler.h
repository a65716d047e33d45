// IoScheduler: decides when a forwarding daemon (I/O node) dispatches the reads and writes
// queued for the parallel file system, and which contiguous ones it merges. The daemon's
// I/O queue owns the requests, the locking, dispatch, statistics and completion matching;
// a scheduler only decides, called with whole queues, never per byte. The built-in FIFO
// scheduler is C++; the AGIOS-style ones are Python plug-ins (gkfs.forwarding.scheduling)
// adapted by the bindings. Called from one thread (the I/O queue's dispatcher) at a time.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "gkfs/status.h"

namespace gkfs {

struct IoRequestInfo {
  uint64_t id = 0;        // unique per I/O node
  uint32_t app_id = 0;    // from the client (LIBGKFS_APP_ID or the Slurm job id)
  uint64_t queue_id = 0;  // the file (stable hash of its path)
  uint32_t target = 0;    // PFS target the request lands on (0: unknown)
  uint8_t kind = 0;       // 0 read, 1 write
  uint64_t offset = 0;
  uint64_t length = 0;
  double arrival = 0;     // seconds, steady clock
};

struct IoUnitStats {      // one dispatched unit (merged requests), once complete
  std::vector<uint64_t> ids;
  uint64_t bytes = 0;
  double queue_wait = 0;  // mean over the unit's requests of dispatch minus arrival
  double service = 0;     // seconds the PFS operation took
  int error = 0;          // errno, 0 = success
};

using IoQueues = std::map<uint64_t, std::vector<IoRequestInfo>>;  // queue id -> arrival order

class IoScheduler {
 public:
  virtual ~IoScheduler() = default;
  // Largest number of requests the I/O queue may merge into one unit.
  virtual uint32_t max_aggregation() const = 0;
  // batch: units to dispatch now, in order, at most `limit` of them; a unit is the ids of
  // contiguous requests of one file and kind in offset order. sleep: seconds until the
  // scheduler wants to be called again without a new event, < 0 for none. A non-OK status
  // or an invalid unit makes the I/O queue dispatch in arrival order for that call.
  virtual Status Schedule(double now, const IoQueues& queues, int limit,
                          std::vector<std::vector<uint64_t>>* batch, double* sleep) = 0;
  virtual void OnComplete(const std::vector<IoUnitStats>& stats) = 0;
};

// Arrival order, merging runs of contiguous requests up to max_aggregation (TO-agg).
std::shared_ptr<IoScheduler> NewFifoScheduler(uint32_t max_aggregation);

}  // namespace gkfs
