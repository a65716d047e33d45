// sendfile and copy_file_range: when either side is a gkfs file the kernel cannot copy, so
// the data goes through a buffer with the (interposed) read/write calls.
#include "preload/hooks.h"
#include "preload/caller_memory.h"

#include <sys/sendfile.h>

#include <algorithm>
#include <memory>

using namespace gkfs;
using namespace gkfs::preload;

namespace {

constexpr size_t kCopyBuffer = size_t{1} << 20;

// Writes all of buf to fd (at *offset when given, advancing it). False with errno on failure.
bool WriteAll(int fd, const char* buf, size_t len, int64_t* offset) {
  while (len > 0) {
    ssize_t w = offset ? ::pwrite64(fd, buf, len, *offset) : ::write(fd, buf, len);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    buf += w;
    len -= static_cast<size_t>(w);
    if (offset) *offset += w;
  }
  return true;
}

// Copies up to len bytes from in (at *in_offset if given) to out (at *out_offset if given).
// Returns the bytes copied; -1 with errno only if nothing was copied.
ssize_t CopyThroughBuffer(int in, int64_t* in_offset, int out, int64_t* out_offset, size_t len) {
  len = std::min(len, kMaxTransfer);
  std::unique_ptr<char[]> buf(new char[std::min(len, kCopyBuffer)]);
  size_t total = 0;
  while (total < len) {
    size_t want = std::min(len - total, kCopyBuffer);
    ssize_t got = in_offset ? ::pread64(in, buf.get(), want, *in_offset)
                            : ::read(in, buf.get(), want);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return total > 0 ? static_cast<ssize_t>(total) : -1;
    if (got == 0) break;
    if (!WriteAll(out, buf.get(), static_cast<size_t>(got), out_offset)) {
      return total > 0 ? static_cast<ssize_t>(total) : -1;
    }
    if (in_offset) *in_offset += got;
    total += static_cast<size_t>(got);
  }
  return static_cast<ssize_t>(total);
}

bool EitherOurs(int a, int b) {
  return !ReentryGuard::active() && (fds::MaybeOurs(a) || fds::MaybeOurs(b));
}

ssize_t SendFile(int out, int in, int64_t* offset, size_t count) {
  if (offset && !caller::Readable(offset, sizeof(*offset))) return FailWith(EFAULT);
  if (offset && *offset < 0) return FailWith(EINVAL);
  return CopyThroughBuffer(in, offset, out, nullptr, count);
}

}  // namespace

extern "C" {

ssize_t sendfile(int out, int in, off_t* offset, size_t count) {
  static const auto real = NextSymbol<decltype(&::sendfile)>("sendfile");
  if (!EitherOurs(out, in)) return real(out, in, offset, count);
  return SendFile(out, in, reinterpret_cast<int64_t*>(Launder(offset)), count);
}

ssize_t sendfile64(int out, int in, off64_t* offset, size_t count) {
  static const auto real = NextSymbol<decltype(&::sendfile64)>("sendfile64");
  if (!EitherOurs(out, in)) return real(out, in, offset, count);
  return SendFile(out, in, reinterpret_cast<int64_t*>(Launder(offset)), count);
}

ssize_t copy_file_range(int in, off64_t* in_offset, int out, off64_t* out_offset, size_t len,
                        unsigned int flags) {
  static const auto real = NextSymbol<decltype(&::copy_file_range)>("copy_file_range");
  if (!EitherOurs(in, out)) return real(in, in_offset, out, out_offset, len, flags);
  if (flags != 0) return FailWith(EINVAL);
  in_offset = Launder(in_offset);
  out_offset = Launder(out_offset);
  if ((in_offset && !caller::Readable(in_offset, sizeof(*in_offset))) ||
      (out_offset && !caller::Readable(out_offset, sizeof(*out_offset)))) {
    return FailWith(EFAULT);
  }
  if ((in_offset && *in_offset < 0) || (out_offset && *out_offset < 0)) return FailWith(EINVAL);
  return CopyThroughBuffer(in, reinterpret_cast<int64_t*>(in_offset), out,
                           reinterpret_cast<int64_t*>(out_offset), len);
}

}  // extern "C"
