#include "daemon/worker_pool.h"

#include <chrono>

namespace gkfs {

WorkerPool::WorkerPool(unsigned threads) {
  for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { Loop(); });
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void WorkerPool::Submit(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> l(mu_);
    jobs_.push_back(std::move(job));
    queued_.fetch_add(1, std::memory_order_release);
  }
  cv_.notify_one();
}

bool WorkerPool::TryPop(std::function<void()>* job) {
  if (queued_.load(std::memory_order_acquire) == 0) return false;
  std::lock_guard<std::mutex> l(mu_);
  if (jobs_.empty()) return false;
  *job = std::move(jobs_.front());
  jobs_.pop_front();
  queued_.fetch_sub(1, std::memory_order_relaxed);
  return true;
}

void WorkerPool::Loop() {
  constexpr auto kSpin = std::chrono::microseconds(50);
  std::function<void()> job;
  for (;;) {
    auto spin_until = std::chrono::steady_clock::now() + kSpin;
    bool got = TryPop(&job);
    while (!got && std::chrono::steady_clock::now() < spin_until) {
      std::this_thread::yield();
      got = TryPop(&job);
    }
    if (!got) {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [this] { return stop_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping, nothing left
      job = std::move(jobs_.front());
      jobs_.pop_front();
      queued_.fetch_sub(1, std::memory_order_relaxed);
    }
    job();
    job = nullptr;
  }
}

}  // namespace gkfs
