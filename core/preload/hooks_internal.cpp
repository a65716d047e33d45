// Descriptors and threads of the library itself (UCX's sockets, epoll sets, event fds,
// shared-memory segments and its async thread). The application does not know about them: a shell's `exec 3>file`
// dup2()s over whatever fd 3 is. So every descriptor created while the library is working
// (a ReentryGuard is alive on the thread, or the thread is one the library started) is moved
// to a number >= InternalFdFloor(), out of the range programs pick by hand, and marked
// close-on-exec.
#include "preload/hooks.h"

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>

#include <cstdlib>

using namespace gkfs;
using namespace gkfs::preload;

namespace {

// Above the numbers shells use (bash: 0-9 for users, 10+ for saved fds, 255 for scripts).
int FloorFromLimit() {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 1024;
  rlim_t half = rl.rlim_cur / 2;
  return static_cast<int>(half > 1024 ? 1024 : half);
}

int Internal(int fd) { return ReentryGuard::active() ? RelocateInternalFd(fd) : fd; }

struct ThreadStart {
  void* (*fn)(void*);
  void* arg;
};

// A thread the library (UCX) starts: everything it calls goes straight to libc.
void* RunInternalThread(void* p) {
  ThreadStart start = *static_cast<ThreadStart*>(p);
  delete static_cast<ThreadStart*>(p);
  ReentryGuard forever;
  return start.fn(start.arg);
}

}  // namespace

namespace gkfs::preload {

int InternalFdFloor() {
  static const int floor = FloorFromLimit();
  return floor;
}

// Also close-on-exec: an exec'd program has no use for our connections.
int RelocateInternalFd(int fd) {
  if (fd < 0) return fd;
  if (fd >= InternalFdFloor()) {
    sys::Fcntl(fd, F_SETFD, FD_CLOEXEC);
    return fd;
  }
  int high = sys::Fcntl(fd, F_DUPFD_CLOEXEC, InternalFdFloor());
  if (high < 0) return fd;  // e.g. a lowered limit: keep the low number
  sys::Close(fd);
  return high;
}

}  // namespace gkfs::preload

extern "C" {

int socket(int domain, int type, int protocol) {
  static const auto real = NextSymbol<decltype(&::socket)>("socket");
  return Internal(real(domain, type, protocol));
}

int socketpair(int domain, int type, int protocol, int fds[2]) {
  static const auto real = NextSymbol<decltype(&::socketpair)>("socketpair");
  int r = real(domain, type, protocol, fds);
  if (r == 0 && ReentryGuard::active()) {
    fds[0] = RelocateInternalFd(fds[0]);
    fds[1] = RelocateInternalFd(fds[1]);
  }
  return r;
}

int accept(int fd, struct sockaddr* addr, socklen_t* len) {
  static const auto real = NextSymbol<decltype(&::accept)>("accept");
  return Internal(real(fd, addr, len));
}

int accept4(int fd, struct sockaddr* addr, socklen_t* len, int flags) {
  static const auto real = NextSymbol<decltype(&::accept4)>("accept4");
  return Internal(real(fd, addr, len, flags));
}

int epoll_create(int size) {
  static const auto real = NextSymbol<decltype(&::epoll_create)>("epoll_create");
  return Internal(real(size));
}

int epoll_create1(int flags) {
  static const auto real = NextSymbol<decltype(&::epoll_create1)>("epoll_create1");
  return Internal(real(flags));
}

int eventfd(unsigned int count, int flags) {
  static const auto real = NextSymbol<decltype(&::eventfd)>("eventfd");
  return Internal(real(count, flags));
}

int timerfd_create(int clock, int flags) {
  static const auto real = NextSymbol<decltype(&::timerfd_create)>("timerfd_create");
  return Internal(real(clock, flags));
}

// UCX's shared-memory transport (posix) keeps one segment descriptor per FIFO and memory
// pool: shm_open's open happens inside libc, where the open hook does not see it.
int shm_open(const char* name, int flags, mode_t mode) {
  static const auto real = NextSymbol<decltype(&::shm_open)>("shm_open");
  return Internal(real(name, flags, mode));
}

int memfd_create(const char* name, unsigned int flags) {
  static const auto real = NextSymbol<decltype(&::memfd_create)>("memfd_create");
  return Internal(real(name, flags));
}

int pipe(int fds[2]) {
  static const auto real = NextSymbol<decltype(&::pipe)>("pipe");
  int r = real(fds);
  if (r == 0 && ReentryGuard::active()) {
    fds[0] = RelocateInternalFd(fds[0]);
    fds[1] = RelocateInternalFd(fds[1]);
  }
  return r;
}

int pipe2(int fds[2], int flags) {
  static const auto real = NextSymbol<decltype(&::pipe2)>("pipe2");
  int r = real(fds, flags);
  if (r == 0 && ReentryGuard::active()) {
    fds[0] = RelocateInternalFd(fds[0]);
    fds[1] = RelocateInternalFd(fds[1]);
  }
  return r;
}

int pthread_create(pthread_t* thread, const pthread_attr_t* attr, void* (*fn)(void*),
                   void* arg) {
  static const auto real = NextSymbol<decltype(&::pthread_create)>("pthread_create");
  if (!ReentryGuard::active()) return real(thread, attr, fn, arg);
  auto* start = new ThreadStart{fn, arg};
  int r = real(thread, attr, RunInternalThread, start);
  if (r != 0) delete start;
  return r;
}

}  // extern "C"
