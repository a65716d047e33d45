// IoQueue: the forwarding daemon's queue of reads and writes bound for the PFS. Owns the
// pending requests (with their payloads and reply tokens), one dispatcher thread that asks
// the IoScheduler what to dispatch, and io_threads threads that run each dispatched unit as
// ONE vectored PFS operation (merged contiguous requests). Replies go back through
// Server::Complete. Thread-safe: Submit from the progress thread, Stats from any.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/buffer.h"
#include "daemon/forwarding/pfs_store.h"
#include "gkfs/scheduler.h"
#include "transport/server.h"

namespace gkfs {

struct PendingIo {
  IoRequestInfo info;
  std::string path;
  transport::ReplyToken token;
  Buffer request_data;          // a write's request (its payload points inside)
  const char* payload = nullptr;
};

class IoQueue {
 public:
  IoQueue(std::shared_ptr<IoScheduler> scheduler, PfsStore* store, transport::Server* server,
          int io_threads);
  ~IoQueue();  // stops the threads; requests still pending get ESHUTDOWN

  // Queues a read or write; its reply is sent when it completes. Assigns info.id/arrival.
  void Submit(PendingIo io);
  void Stats(rpc::FwdStatsReply* totals, std::vector<rpc::AppStats>* apps);

 private:
  struct Unit {
    std::vector<PendingIo> requests;  // contiguous, one file, one kind, offset order
    double dispatched = 0;
  };
  void DispatcherLoop();
  void IoLoop();
  // REQUIRES: mu_ held. Moves the requests of `ids` into units_ if they form a valid unit.
  bool TakeUnit(const std::vector<uint64_t>& ids, double now);
  // Runs the unit's PFS operation; fills one response per request (sent by the caller
  // after the metrics are recorded, so a client that got its reply sees it counted).
  void Execute(Unit& unit, IoUnitStats* stats, std::vector<transport::Response>* replies);
  static transport::Response MakeReply(const PendingIo& io, int status, uint64_t offset, Buffer data,
                                       size_t size);

  std::shared_ptr<IoScheduler> scheduler_;
  PfsStore* store_;
  transport::Server* server_;
  const int io_threads_;

  std::mutex mu_;
  std::condition_variable dispatch_cv_;
  std::condition_variable io_cv_;
  bool stop_ = false;                              // GUARDED_BY(mu_)
  bool event_ = false;                             // GUARDED_BY(mu_): arrival or completion
  uint64_t next_id_ = 1;                           // GUARDED_BY(mu_)
  std::map<uint64_t, PendingIo> pending_;          // GUARDED_BY(mu_), by id = arrival order
  std::vector<Unit> units_;                        // GUARDED_BY(mu_), dispatched, not started
  int in_service_ = 0;                             // GUARDED_BY(mu_)
  std::vector<IoUnitStats> completions_;           // GUARDED_BY(mu_), for OnComplete
  std::map<uint32_t, rpc::AppStats> apps_;         // GUARDED_BY(mu_)
  uint64_t scheduler_errors_ = 0;                  // GUARDED_BY(mu_)
  std::vector<std::thread> threads_;
};

double SteadySeconds();

}  // namespace gkfs
