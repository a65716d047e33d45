#include "transport/poller.h"

#include <sys/epoll.h>
#include <unistd.h>

namespace gkfs::transport {

Poller::Poller(Worker* net, Worker* local) : net_(net), local_(local) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  for (Worker* w : {net_, local_}) {
    if (w == nullptr || epoll_fd_ < 0) continue;
    struct epoll_event ev{};
    ev.events = EPOLLIN;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, w->event_fd(), &ev);
  }
}

Poller::~Poller() {
  if (epoll_fd_ >= 0) close(epoll_fd_);
}

bool Poller::Turn(bool net_busy) {
  if (local_ == nullptr) return net_->Progress();
  bool any = local_->Progress();
  if (net_busy || net_hot_ > 0 || ++turn_ % kNetStride == 0) {
    if (net_->Progress()) {
      net_hot_ = kNetHotTurns;
      any = true;
    } else if (net_hot_ > 0) {
      --net_hot_;
    }
  }
  return any;
}

void Poller::Drain() {
  bool any = true;
  while (any) {
    any = net_->Progress();
    if (local_ != nullptr) any |= local_->Progress();
  }
}

void Poller::Wait(int timeout_ms) {
  net_hot_ = 1;
  // Arming fails while a worker has events pending: progress instead of sleeping.
  if (!net_->Arm()) return;
  if (local_ != nullptr && !local_->Arm()) return;
  struct epoll_event ev[2];
  (void)epoll_wait(epoll_fd_, ev, 2, timeout_ms);
}

void Poller::Signal() { net_->Signal(); }

}  // namespace gkfs::transport
