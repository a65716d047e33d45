// mkstemp family and mkdtemp: glibc creates the file with its internal open, past our hooks,
// so a template inside the mount directory would land on the local disk. For gkfs templates
// the name is generated here and created through the hooks (O_CREAT | O_EXCL, or mkdir).
#include "preload/hooks.h"
#include "preload/caller_memory.h"

#include <sys/random.h>

#include <cstring>
#include <ctime>

using namespace gkfs;
using namespace gkfs::preload;

namespace {

constexpr int kAttempts = 100;

// Replaces the six X before the suffix with random letters and digits.
void FillName(char* x) {
  static const char kChars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  uint64_t bits;
  if (getrandom(&bits, sizeof(bits), GRND_NONBLOCK) != sizeof(bits)) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    bits = static_cast<uint64_t>(ts.tv_nsec) ^ (static_cast<uint64_t>(ts.tv_sec) << 30) ^
           static_cast<uint64_t>(::getpid());
  }
  constexpr uint64_t kBase = sizeof(kChars) - 1;
  for (int i = 0; i < 6; ++i, bits /= kBase) x[i] = kChars[bits % kBase];
}

// The six X of a template with a suffix of suffix_len, or nullptr (EINVAL, or EFAULT when
// the template cannot be written: glibc itself would crash). REQUIRES: tmpl was resolved.
char* Placeholder(char* tmpl, int suffix_len) {
  size_t len = std::strlen(tmpl);
  if (suffix_len < 0 || len < 6 + static_cast<size_t>(suffix_len)) return errno = EINVAL, nullptr;
  char* x = tmpl + len - suffix_len - 6;
  if (std::strncmp(x, "XXXXXX", 6) != 0) return errno = EINVAL, nullptr;
  if (!caller::WillWrite(x, 6)) return errno = EFAULT, nullptr;
  return x;
}

// True (and t resolved) if the template names a gkfs path; false: libc's turn (or error).
bool IsGkfsTemplate(const char* tmpl, PathTarget* t) {
  ResolveArg(Launder(tmpl), t);
  return !t->kernel();
}

int MakeTempFile(char* tmpl, int suffix_len, int flags) {
  char* x = Placeholder(tmpl, suffix_len);
  if (x == nullptr) return -1;
  for (int i = 0; i < kAttempts; ++i) {
    FillName(x);
    int fd = ::open(tmpl, O_RDWR | O_CREAT | O_EXCL | (flags & ~O_ACCMODE), 0600);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  return FailWith(EEXIST);
}

}  // namespace

extern "C" {

int mkostemps(char* tmpl, int suffix_len, int flags) {
  static const auto real = NextSymbol<decltype(&::mkostemps)>("mkostemps");
  PathTarget t;
  if (!IsGkfsTemplate(tmpl, &t)) return real(tmpl, suffix_len, flags);
  return t.gkfs() ? MakeTempFile(tmpl, suffix_len, flags) : FailWith(t.error);
}

int mkstemp(char* tmpl) { return mkostemps(tmpl, 0, 0); }
int mkstemp64(char* tmpl) { return mkostemps(tmpl, 0, 0); }
int mkostemp(char* tmpl, int flags) { return mkostemps(tmpl, 0, flags); }
int mkostemp64(char* tmpl, int flags) { return mkostemps(tmpl, 0, flags); }
int mkstemps(char* tmpl, int suffix_len) { return mkostemps(tmpl, suffix_len, 0); }
int mkstemps64(char* tmpl, int suffix_len) { return mkostemps(tmpl, suffix_len, 0); }
int mkostemps64(char* tmpl, int suffix_len, int flags) {
  return mkostemps(tmpl, suffix_len, flags);
}

char* mkdtemp(char* tmpl) {
  static const auto real = NextSymbol<decltype(&::mkdtemp)>("mkdtemp");
  PathTarget t;
  if (!IsGkfsTemplate(tmpl, &t)) return real(tmpl);
  if (!t.gkfs()) return errno = t.error, nullptr;
  char* x = Placeholder(tmpl, 0);
  if (x == nullptr) return nullptr;
  for (int i = 0; i < kAttempts; ++i) {
    FillName(x);
    if (::mkdir(tmpl, 0700) == 0) return tmpl;
    if (errno != EEXIST) return nullptr;
  }
  return errno = EEXIST, nullptr;
}

}  // extern "C"
