#include "client/session_leases.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>

namespace gkfs {

SessionLeases::~SessionLeases() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (!thread_.joinable()) return;
  if (owner_pid_ == getpid()) {
    thread_.join();
  } else {
    thread_.detach();  // a forked child's copy: the thread lives in the parent only
  }
}

void SessionLeases::Opened(uint64_t opener, uint64_t ino) {
  std::lock_guard<std::mutex> l(mu_);
  ++held_[opener][ino];
  if (thread_.joinable()) return;
  // Every signal blocked: the application's signals never land on this thread.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  thread_ = std::thread([this] { Loop(); });
  owner_pid_ = getpid();
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void SessionLeases::Released(uint64_t opener, const std::vector<uint64_t>& inos) {
  std::lock_guard<std::mutex> l(mu_);
  auto session = held_.find(opener);
  if (session == held_.end()) return;
  for (uint64_t ino : inos) {
    auto it = session->second.find(ino);
    if (it != session->second.end() && --it->second == 0) session->second.erase(it);
  }
  if (session->second.empty()) held_.erase(session);
}

void SessionLeases::Loop() {
  std::unique_lock<std::mutex> l(mu_);
  while (!wake_.wait_for(l, std::chrono::milliseconds(period_ms_), [this] { return stop_; })) {
    std::vector<std::pair<uint64_t, std::vector<uint64_t>>> sessions;
    for (const auto& [opener, inos] : held_) {
      sessions.emplace_back(opener, std::vector<uint64_t>());
      for (const auto& [ino, count] : inos) sessions.back().second.insert(sessions.back().second.end(), count, ino);
    }
    l.unlock();
    for (const auto& [opener, inos] : sessions) (void)renew_(opener, inos);
    l.lock();
  }
}

}  // namespace gkfs
