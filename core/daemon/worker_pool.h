// WorkerPool: threads that run submitted jobs in FIFO order, so that large chunk reads and
// writes (a copy through the page cache each) run beside the network thread instead of
// stalling it. An idle thread spins briefly before it sleeps: waking a sleeping thread costs
// tens of microseconds on the virtual machines we run on, as much as a 128 KiB copy.
// Thread-safe; the destructor runs the jobs still queued and joins the threads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace gkfs {

class WorkerPool {
 public:
  // REQUIRES: threads >= 1.
  explicit WorkerPool(unsigned threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void Submit(std::function<void()> job);

 private:
  void Loop();
  bool TryPop(std::function<void()>* job);

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;  // GUARDED_BY(mu_)
  std::atomic<size_t> queued_{0};           // jobs_.size(), read without the lock
  bool stop_ = false;                       // GUARDED_BY(mu_)
  std::vector<std::thread> threads_;
};

}  // namespace gkfs
