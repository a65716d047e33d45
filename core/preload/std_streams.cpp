// fopencookie streams over gkfs descriptors, and the standard-stream swap.
#include "preload/std_streams.h"

#include <stdio_ext.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "preload/fd_table.h"

namespace gkfs::preload::streams {

namespace {

struct Cookie {
  int fd;
  FILE* stream = nullptr;
};

std::mutex g_mu;
std::atomic<int> g_count{0};   // streams registered: lets fileno() skip the lock
FILE* g_std[3];                // GUARDED_BY(g_mu): our stream for descriptor 0-2, kept for reuse
FILE* g_std_replaced[3];       // GUARDED_BY(g_mu): glibc's stream while ours is installed
bool g_std_active[3];          // GUARDED_BY(g_mu)

std::unordered_map<FILE*, Cookie*>& Registry() {  // GUARDED_BY(g_mu); leaked on purpose
  static auto* registry = new std::unordered_map<FILE*, Cookie*>();
  return *registry;
}

FILE** StdSlot(int fd) { return fd == 0 ? &stdin : fd == 1 ? &stdout : &stderr; }

// The stream functions call the interposed libc entry points, which route gkfs descriptors
// to gkfs (and anything else, e.g. after a close_range, to the kernel).
ssize_t CookieRead(void* c, char* buf, size_t n) {
  return ::read(static_cast<Cookie*>(c)->fd, buf, n);
}

ssize_t CookieWrite(void* c, const char* buf, size_t n) {
  int fd = static_cast<Cookie*>(c)->fd;
  size_t done = 0;
  while (done < n) {
    ssize_t w = ::write(fd, buf + done, n - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return done > 0 ? static_cast<ssize_t>(done) : -1;
    done += static_cast<size_t>(w);
  }
  return static_cast<ssize_t>(done);
}

int CookieSeek(void* c, off64_t* position, int whence) {
  off64_t r = ::lseek64(static_cast<Cookie*>(c)->fd, *position, whence);
  if (r < 0) return -1;
  *position = r;
  return 0;
}

int CookieClose(void* c) {
  auto* cookie = static_cast<Cookie*>(c);
  {
    std::lock_guard<std::mutex> lock(g_mu);
    Registry().erase(cookie->stream);
    g_count.fetch_sub(1);
    for (int k = 0; k < 3; ++k) {
      if (g_std[k] != cookie->stream) continue;
      // fclose(stdout): leave stdout a valid (closed-descriptor) stream, not a dangling one.
      if (g_std_active[k] && *StdSlot(k) == cookie->stream) *StdSlot(k) = g_std_replaced[k];
      g_std[k] = nullptr;
      g_std_active[k] = false;
    }
  }
  int r = ::close(cookie->fd);
  delete cookie;
  return r;
}

const cookie_io_functions_t kFunctions = {CookieRead, CookieWrite, CookieSeek, CookieClose};

FILE* NewStreamLocked(int fd, const char* mode) {
  auto* cookie = new Cookie{fd};
  FILE* stream = fopencookie(cookie, mode, kFunctions);
  if (stream == nullptr) {
    delete cookie;
    return nullptr;
  }
  cookie->stream = stream;
  Registry()[stream] = cookie;
  g_count.fetch_add(1);
  return stream;
}

FILE* ActiveStd(int fd) {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_std_active[fd] ? g_std[fd] : nullptr;
}

}  // namespace

FILE* Open(int fd, const char* mode) {
  std::lock_guard<std::mutex> lock(g_mu);
  return NewStreamLocked(fd, mode);
}

bool Fileno(FILE* stream, int* fd) {
  if (g_count.load(std::memory_order_relaxed) == 0) return false;
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = Registry().find(stream);
  if (it == Registry().end()) return false;
  *fd = it->second->fd;
  return true;
}

void BeforeStdFdChange(int fd) {
  if (fd < 0 || fd > 2) return;
  if (FILE* stream = ActiveStd(fd)) fflush(stream);  // its data belongs to the old file
}

void AfterStdFdChange(int fd) {
  if (fd < 0 || fd > 2) return;
  bool ours = fds::MaybeOurs(fd);
  std::lock_guard<std::mutex> lock(g_mu);
  FILE** slot = StdSlot(fd);
  if (ours && !g_std_active[fd]) {
    if (g_std[fd] == nullptr) {
      g_std[fd] = NewStreamLocked(fd, fd == 0 ? "r" : "w");
      if (g_std[fd] == nullptr) return;
      if (fd == 2) setvbuf(g_std[fd], nullptr, _IONBF, 0);
    } else {
      __fpurge(g_std[fd]);  // drop what was read from the previous file
      clearerr(g_std[fd]);
    }
    g_std_replaced[fd] = *slot;
    *slot = g_std[fd];
    g_std_active[fd] = true;
  } else if (!ours && g_std_active[fd]) {
    if (*slot == g_std[fd]) *slot = g_std_replaced[fd];
    __fpurge(g_std[fd]);
    g_std_active[fd] = false;
  }
}

void AttachInherited() {
  for (int fd = 0; fd < 3; ++fd) {
    if (fds::MaybeOurs(fd)) AfterStdFdChange(fd);
  }
}

void FlushAll() {
  std::vector<FILE*> streams;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    for (auto& entry : Registry()) streams.push_back(entry.first);
  }
  for (FILE* stream : streams) fflush(stream);
}

void LockForFork() { g_mu.lock(); }
void UnlockAfterFork() { g_mu.unlock(); }

}  // namespace gkfs::preload::streams
