#include "daemon/forwarding/io_queue.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "common/log.h"

namespace gkfs {

double SteadySeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

IoQueue::IoQueue(std::shared_ptr<IoScheduler> scheduler, PfsStore* store, transport::Server* server,
                 int io_threads)
    : scheduler_(std::move(scheduler)), store_(store), server_(server), io_threads_(std::max(1, io_threads)) {
  threads_.emplace_back([this] { DispatcherLoop(); });
  for (int i = 0; i < io_threads_; ++i) threads_.emplace_back([this] { IoLoop(); });
}

IoQueue::~IoQueue() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  dispatch_cv_.notify_all();
  io_cv_.notify_all();
  for (auto& t : threads_) t.join();
  for (auto& [id, io] : pending_) server_->Complete(io.token, MakeReply(io, ESHUTDOWN, 0, Buffer(), 0));
  for (auto& unit : units_) {
    for (auto& io : unit.requests) server_->Complete(io.token, MakeReply(io, ESHUTDOWN, 0, Buffer(), 0));
  }
}

void IoQueue::Submit(PendingIo io) {
  {
    std::lock_guard<std::mutex> l(mu_);
    io.info.id = next_id_++;
    io.info.arrival = SteadySeconds();
    pending_.emplace(io.info.id, std::move(io));
    event_ = true;
  }
  dispatch_cv_.notify_one();
}

bool IoQueue::TakeUnit(const std::vector<uint64_t>& ids, double now) {
  if (ids.empty() || ids.size() > scheduler_->max_aggregation()) return false;
  std::vector<std::map<uint64_t, PendingIo>::iterator> found;
  for (uint64_t id : ids) {
    auto it = pending_.find(id);
    if (it == pending_.end()) return false;
    if (!found.empty()) {
      const PendingIo& prev = found.back()->second;
      const PendingIo& cur = it->second;
      if (cur.path != prev.path || cur.info.kind != prev.info.kind ||
          cur.info.offset != prev.info.offset + prev.info.length) {
        return false;
      }
    }
    found.push_back(it);
  }
  Unit unit;
  unit.dispatched = now;
  for (auto it : found) {
    unit.requests.push_back(std::move(it->second));
    pending_.erase(it);
  }
  units_.push_back(std::move(unit));
  return true;
}

void IoQueue::DispatcherLoop() {
  std::unique_lock<std::mutex> l(mu_);
  double wake_at = INFINITY;  // the scheduler's sleep deadline
  while (!stop_) {
    if (!completions_.empty()) {
      std::vector<IoUnitStats> done;
      done.swap(completions_);
      l.unlock();
      scheduler_->OnComplete(done);
      l.lock();
      continue;
    }
    int free_slots = io_threads_ - in_service_ - static_cast<int>(units_.size());
    double now = SteadySeconds();
    bool due = now >= wake_at;
    if (pending_.empty() || free_slots <= 0 || !(event_ || due)) {
      if (std::isinf(wake_at) || pending_.empty()) {
        dispatch_cv_.wait(l);
      } else {
        dispatch_cv_.wait_for(l, std::chrono::duration<double>(std::max(0.0, wake_at - now)));
      }
      continue;
    }
    event_ = false;
    wake_at = INFINITY;
    IoQueues queues;
    for (const auto& [id, io] : pending_) queues[io.info.queue_id].push_back(io.info);
    l.unlock();
    std::vector<std::vector<uint64_t>> batch;
    double sleep = -1;
    Status s = scheduler_->Schedule(now, queues, free_slots, &batch, &sleep);
    l.lock();
    bool fallback = !s.ok() || batch.size() > static_cast<size_t>(free_slots);
    for (size_t i = 0; !fallback && i < batch.size(); ++i) fallback = !TakeUnit(batch[i], now);
    if (fallback) {
      ++scheduler_errors_;
      GKFS_LOG(kError, "scheduler gave no valid batch (" + s.ToString() + "); dispatching in arrival order");
      while (!pending_.empty() && static_cast<int>(units_.size()) + in_service_ < io_threads_) {
        TakeUnit({pending_.begin()->first}, now);
      }
    }
    if (sleep >= 0) wake_at = now + sleep;
    io_cv_.notify_all();
  }
}

void IoQueue::IoLoop() {
  std::unique_lock<std::mutex> l(mu_);
  while (true) {
    io_cv_.wait(l, [this] { return stop_ || !units_.empty(); });
    if (stop_) return;
    Unit unit = std::move(units_.front());
    units_.erase(units_.begin());
    ++in_service_;
    l.unlock();
    IoUnitStats stats;
    std::vector<transport::Response> replies;
    Execute(unit, &stats, &replies);
    l.lock();
    --in_service_;
    for (const auto& io : unit.requests) {
      rpc::AppStats& app = apps_[io.info.app_id];
      app.app_id = io.info.app_id;
      app.requests += 1;
      app.bytes += io.info.length;
      (io.info.kind == 0 ? app.reads : app.writes) += 1;
      app.queue_wait_ns += static_cast<uint64_t>((unit.dispatched - io.info.arrival) * 1e9);
      app.service_ns += static_cast<uint64_t>(stats.service * 1e9 / unit.requests.size());
    }
    apps_[unit.requests.front().info.app_id].units += 1;
    completions_.push_back(std::move(stats));
    event_ = true;
    dispatch_cv_.notify_one();
    l.unlock();
    for (size_t i = 0; i < replies.size(); ++i) server_->Complete(unit.requests[i].token, std::move(replies[i]));
    l.lock();
  }
}

void IoQueue::Execute(Unit& unit, IoUnitStats* stats, std::vector<transport::Response>* replies) {
  const PendingIo& first = unit.requests.front();
  double start = SteadySeconds();
  double wait = 0;
  std::vector<struct iovec> iov;
  std::vector<Buffer> buffers;
  for (auto& io : unit.requests) {
    stats->ids.push_back(io.info.id);
    stats->bytes += io.info.length;
    wait += unit.dispatched - io.info.arrival;
    if (first.info.kind == 1) {
      iov.push_back({const_cast<char*>(io.payload), io.info.length});
    } else {
      buffers.emplace_back(io.info.length);
      iov.push_back({buffers.back().data(), io.info.length});
    }
  }
  stats->queue_wait = wait / unit.requests.size();
  size_t done = 0;
  Status s = first.info.kind == 1 ? store_->WriteV(first.path, first.info.offset, iov)
                                  : store_->ReadV(first.path, first.info.offset, iov, &done);
  stats->service = SteadySeconds() - start;
  stats->error = s.code();
  for (size_t i = 0; i < unit.requests.size(); ++i) {
    PendingIo& io = unit.requests[i];
    if (first.info.kind == 1) {
      replies->push_back(MakeReply(io, s.code(), io.info.offset, Buffer(), 0));
    } else {
      // A short read at end of file: earlier requests got their bytes first.
      size_t mine = std::min<size_t>(io.info.length, done);
      done -= mine;
      replies->push_back(MakeReply(io, s.code(), io.info.offset, std::move(buffers[i]), mine));
    }
  }
}

transport::Response IoQueue::MakeReply(const PendingIo& io, int status, uint64_t offset, Buffer data,
                                       size_t size) {
  transport::Response r;
  r.status = status;
  if (status == 0 && io.info.kind == 1) {
    rpc::OffsetReply reply;
    reply.offset = offset;
    r.body = rpc::EncodeBody(reply);
  }
  if (status == 0 && io.info.kind == 0) {
    r.payload = std::move(data);
    r.payload_size = size;
  }
  return r;
}

void IoQueue::Stats(rpc::FwdStatsReply* totals, std::vector<rpc::AppStats>* apps) {
  std::lock_guard<std::mutex> l(mu_);
  totals->pending = pending_.size() + units_.size();
  totals->in_service = static_cast<uint64_t>(in_service_);
  totals->scheduler_errors = scheduler_errors_;
  apps->clear();
  for (const auto& [id, app] : apps_) apps->push_back(app);
}

}  // namespace gkfs
