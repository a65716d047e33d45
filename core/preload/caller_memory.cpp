// Page-by-page checks of the application's memory (caller_memory.h).
#include "preload/caller_memory.h"

#include <linux/limits.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "preload/libc.h"

namespace gkfs::preload::caller {

namespace {

constexpr uintptr_t kPage = 4096;

uintptr_t PageOf(uintptr_t address) { return address & ~(kPage - 1); }

// The kernel's sigset_t, which rt_sigprocmask copies in: 8 bytes (a power of two, so an
// aligned copy never leaves its page).
constexpr uintptr_t kSigsetBytes = _NSIG / 8;

// One system call: can the page holding `address` be read? (Never asked for page 0, which
// rt_sigprocmask would take for "no new mask".)
bool PageReadable(uintptr_t address) {
  int saved = errno;
  long r = syscall(SYS_rt_sigprocmask, -1 /* no such how */, address & ~(kSigsetBytes - 1),
                   nullptr, kSigsetBytes);
  bool readable = !(r < 0 && errno == EFAULT);
  errno = saved;
  return readable;
}

// Can the byte at `address` be written? getrandom writes it (a random value) or answers
// EFAULT; before the kernel's random pool is ready it may refuse (EAGAIN), and then only
// the mapping is checked.
bool ByteWritable(uintptr_t address) {
  int saved = errno;
  long r = syscall(SYS_getrandom, address, 1, GRND_NONBLOCK);
  bool writable = r == 1 || (r < 0 && errno != EFAULT &&
                             sys::IsMapped(reinterpret_cast<void*>(address), 1));
  errno = saved;
  return writable;
}

// Remembers the last page found readable, so that strings sharing a page cost one check.
class PageChecker {
 public:
  bool Readable(uintptr_t address) {
    if (address < kPage) return false;
    if (PageOf(address) == last_) return true;
    if (!PageReadable(address)) return false;
    last_ = PageOf(address);
    return true;
  }
  // [address, address + n) readable, n > 0.
  bool Readable(uintptr_t address, size_t n) {
    uintptr_t end = address + n;
    if (end < address) return false;
    for (uintptr_t page = address; page < end; page = PageOf(page) + kPage) {
      if (!Readable(page)) return false;
    }
    return true;
  }

 private:
  uintptr_t last_ = 0;
};

}  // namespace

int CheckPath(const char* path, size_t* len) {
  uintptr_t start = reinterpret_cast<uintptr_t>(path);
  PageChecker pages;
  for (size_t scanned = 0; scanned < PATH_MAX;) {
    uintptr_t at = start + scanned;
    if (at < start || !pages.Readable(at)) return EFAULT;
    size_t room = std::min<size_t>(PageOf(at) + kPage - at, PATH_MAX - scanned);
    const void* nul = std::memchr(reinterpret_cast<const void*>(at), '\0', room);
    if (nul != nullptr) {
      *len = scanned + static_cast<size_t>(static_cast<const char*>(nul) -
                                           reinterpret_cast<const char*>(at));
      return 0;
    }
    scanned += room;
  }
  return ENAMETOOLONG;
}

bool Readable(const void* p, size_t n) {
  if (n == 0) return true;
  PageChecker pages;
  return pages.Readable(reinterpret_cast<uintptr_t>(p), n);
}

bool WillWrite(void* p, size_t n) {
  if (n == 0) return true;
  uintptr_t start = reinterpret_cast<uintptr_t>(p);
  uintptr_t end = start + n;
  if (start < kPage || end < start) return false;
  for (uintptr_t at = start; at < end; at = PageOf(at) + kPage) {
    if (!ByteWritable(at)) return false;
  }
  return true;
}

bool StringArrayReadable(const char* const* array, size_t prefix) {
  PageChecker pages;
  for (uintptr_t at = reinterpret_cast<uintptr_t>(array);; at += sizeof(char*)) {
    if (!pages.Readable(at, sizeof(char*))) return false;
    const char* s = *reinterpret_cast<const char* const*>(at);
    if (s == nullptr) return true;
    uintptr_t text = reinterpret_cast<uintptr_t>(s);
    for (size_t i = 0; i < prefix; ++i) {  // up to the NUL or `prefix` bytes
      if (!pages.Readable(text + i)) return false;
      if (s[i] == '\0') break;
    }
  }
}

}  // namespace gkfs::preload::caller
