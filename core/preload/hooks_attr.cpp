// Attributes: chmod, chown and the times (Client::SetAttr). Only the owner (or root) may
// chmod or set explicit times (EPERM); setting the times to now also needs write permission.
// chown as Linux: root changes anything; the owner may keep its uid and set the group to one
// of its own groups; anything else is EPERM.
#include "preload/hooks.h"

#include <sys/time.h>
#include <utime.h>

#include <ctime>

#include "preload/caller_memory.h"
#include "common/access.h"
#include "preload/permissions.h"

using namespace gkfs;
using namespace gkfs::preload;

namespace {

// chmod(2): only the owner (or root); as Linux, an unprivileged caller outside the file's
// group cannot set its set-group-ID bit (it is dropped, not refused).
int SetMode(const std::string& internal, const Metadata& md, mode_t mode) {
  uint32_t bits = 0;
  if (int error = ChmodBits(md, mode, geteuid(), InGroup, &bits)) return FailWith(error);
  if (md.is_dir()) ancestors::Forget();
  return Result(WithClient(
      [&](Client& c) { return c.SetAttrFile(internal, md.file_id, static_cast<int64_t>(bits), -1, -1, -1, -1); }));
}

// chown(2): -1 keeps a field. Linux clears the set-user-ID bit of anything but a directory,
// and its set-group-ID bit when group execution is on (otherwise it marks mandatory
// locking); ctime becomes now whatever changes.
int Chown(const std::string& internal, const Metadata& md, uid_t uid, gid_t gid) {
  constexpr uid_t kKeepUid = static_cast<uid_t>(-1);
  constexpr gid_t kKeepGid = static_cast<gid_t>(-1);
  int64_t new_uid = uid == kKeepUid ? -1 : static_cast<int64_t>(uid);
  int64_t new_gid = gid == kKeepGid ? -1 : static_cast<int64_t>(gid);
  int64_t mode = -1;
  if (int error = ChownChange(md, new_uid, new_gid, geteuid(), InGroup, &mode)) return FailWith(error);
  if (md.is_dir()) ancestors::Forget();
  return Result(WithClient([&](Client& c) { return c.SetAttrFile(internal, md.file_id, mode, -1, -1, new_uid, new_gid); }));
}

int64_t NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// utimensat semantics: NULL = now for both; UTIME_NOW / UTIME_OMIT per field. Setting "now"
// needs ownership or write permission (EACCES), any other change ownership (EPERM).
// REQUIRES: times is NULL or TimesReadable.
int SetTimes(const std::string& internal, const Metadata& md, const struct timespec* times) {
  if (times != nullptr && times[0].tv_nsec == UTIME_NOW && times[1].tv_nsec == UTIME_NOW) {
    times = nullptr;
  }
  int64_t ns[2];
  for (int i = 0; i < 2; ++i) {
    if (times == nullptr || times[i].tv_nsec == UTIME_NOW) {
      ns[i] = NowNs();
    } else if (times[i].tv_nsec == UTIME_OMIT) {
      ns[i] = -1;
    } else if (times[i].tv_nsec < 0 || times[i].tv_nsec >= 1000000000) {
      return FailWith(EINVAL);
    } else {
      ns[i] = static_cast<int64_t>(times[i].tv_sec) * 1000000000 + times[i].tv_nsec;
    }
  }
  if (ns[0] < 0 && ns[1] < 0) return 0;
  if (!OwnsOrRoot(md)) {
    if (times != nullptr) return FailWith(EPERM);
    if (!MayAccess(md, W_OK)) return FailWith(EACCES);
  }
  return Result(WithClient([&](Client& c) { return c.SetAttrFile(internal, md.file_id, -1, ns[0], ns[1], -1, -1); }));
}

// The kernel reads the times before it looks at the path: EFAULT comes first.
bool TimesReadable(const struct timespec* times) {
  return Launder(times) == nullptr || caller::Readable(times, 2 * sizeof(*times));
}

// timeval pairs (utimes, futimes, lutimes) as timespec pairs; false (EFAULT) when tv cannot
// be read (glibc itself would crash there).
bool FromTimevals(const struct timeval* tv, struct timespec out[2], const struct timespec** times) {
  tv = Launder(tv);
  *times = nullptr;
  if (tv == nullptr) return true;
  if (!caller::Readable(tv, 2 * sizeof(*tv))) return false;
  *times = out;
  for (int i = 0; i < 2; ++i) {
    out[i].tv_sec = tv[i].tv_sec;
    out[i].tv_nsec = tv[i].tv_usec * 1000;
  }
  return true;
}

int ChmodAt(int dirfd, const char* path, mode_t mode, int flags) {
  static const auto real = NextSymbol<decltype(&::fchmodat)>("fchmodat");
  PathTarget t;
  ResolveArg(dirfd, path, &t);
  if (t.gkfs()) {
    if (flags & ~AT_SYMLINK_NOFOLLOW) return FailWith(EINVAL);
    Metadata md;
    int found = LookupArg(&t, !(flags & AT_SYMLINK_NOFOLLOW), &md);
    if (found < 0) return -1;
    if (found == 0) return S_ISLNK(md.mode) ? FailWith(EOPNOTSUPP) : SetMode(t.internal, md, mode);
  }
  if (t.kernel()) return real(dirfd, t.kernel_path, mode, flags);
  return FailWith(t.error);
}

int ChownAt(int dirfd, const char* path, uid_t uid, gid_t gid, int flags) {
  static const auto real = NextSymbol<decltype(&::fchownat)>("fchownat");
  PathTarget t;
  ResolveArg(dirfd, path, &t);
  if (t.gkfs()) {
    if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return FailWith(EINVAL);
    Metadata md;
    int found = LookupArg(&t, !(flags & AT_SYMLINK_NOFOLLOW), &md);
    if (found < 0) return -1;
    if (found == 0) return Chown(t.internal, md, uid, gid);
  }
  if (t.kernel()) return real(dirfd, t.kernel_path, uid, gid, flags);
  return FailWith(t.error);
}

int UtimensAt(int dirfd, const char* path, const struct timespec* times, int flags) {
  static const auto real = NextSymbol<decltype(&::utimensat)>("utimensat");
  if (!TimesReadable(times)) return FailWith(EFAULT);
  path = Launder(path);
  if (path == nullptr) {  // Linux: the times of dirfd itself
    if (OpenFileRef f = OurFile(dirfd)) {
      Metadata md;
      return StatOpen(*f, &md) != 0 ? -1 : SetTimes(f->path, md, times);
    }
    return real(dirfd, path, times, flags);
  }
  PathTarget t;
  ResolveArg(dirfd, path, &t);
  if (t.gkfs()) {
    if (flags & ~AT_SYMLINK_NOFOLLOW) return FailWith(EINVAL);
    Metadata md;  // the file must exist even when no time changes
    int found = LookupArg(&t, !(flags & AT_SYMLINK_NOFOLLOW), &md);
    if (found < 0) return -1;
    if (found == 0) return SetTimes(t.internal, md, times);
  }
  if (t.kernel()) return real(dirfd, t.kernel_path, times, flags);
  return FailWith(t.error);
}

}  // namespace

extern "C" {

int chmod(const char* path, mode_t mode) { return ChmodAt(AT_FDCWD, path, mode, 0); }
// Interposed only to keep CurrentUmask()'s copy right.
mode_t umask(mode_t mask) {
  mode_t old = static_cast<mode_t>(sys::Umask(mask));
  ForgetUmask();
  return old;
}
int fchmodat(int dirfd, const char* path, mode_t mode, int flags) {
  return ChmodAt(dirfd, path, mode, flags);
}
int fchmod(int fd, mode_t mode) {
  static const auto real = NextSymbol<decltype(&::fchmod)>("fchmod");
  OpenFileRef f = OurFile(fd);
  if (!f) return real(fd, mode);
  Metadata md;
  return StatOpen(*f, &md) != 0 ? -1 : SetMode(f->path, md, mode);
}

int chown(const char* path, uid_t uid, gid_t gid) { return ChownAt(AT_FDCWD, path, uid, gid, 0); }
int lchown(const char* path, uid_t uid, gid_t gid) {
  return ChownAt(AT_FDCWD, path, uid, gid, AT_SYMLINK_NOFOLLOW);
}
int fchownat(int dirfd, const char* path, uid_t uid, gid_t gid, int flags) {
  return ChownAt(dirfd, path, uid, gid, flags);
}
int fchown(int fd, uid_t uid, gid_t gid) {
  static const auto real = NextSymbol<decltype(&::fchown)>("fchown");
  OpenFileRef f = OurFile(fd);
  if (!f) return real(fd, uid, gid);
  Metadata md;
  return StatOpen(*f, &md) != 0 ? -1 : Chown(f->path, md, uid, gid);
}

int utimensat(int dirfd, const char* path, const struct timespec times[2], int flags) {
  return UtimensAt(dirfd, path, times, flags);
}
int futimens(int fd, const struct timespec times[2]) {
  static const auto real = NextSymbol<decltype(&::futimens)>("futimens");
  OpenFileRef f = OurFile(fd);
  if (!f) return real(fd, times);
  if (!TimesReadable(times)) return FailWith(EFAULT);
  Metadata md;
  return StatOpen(*f, &md) != 0 ? -1 : SetTimes(f->path, md, times);
}
int utimes(const char* path, const struct timeval tv[2]) {
  struct timespec ts[2];
  const struct timespec* times;
  if (!FromTimevals(tv, ts, &times)) return FailWith(EFAULT);
  return UtimensAt(AT_FDCWD, path, times, 0);
}
int lutimes(const char* path, const struct timeval tv[2]) {
  struct timespec ts[2];
  const struct timespec* times;
  if (!FromTimevals(tv, ts, &times)) return FailWith(EFAULT);
  return UtimensAt(AT_FDCWD, path, times, AT_SYMLINK_NOFOLLOW);
}
int futimes(int fd, const struct timeval tv[2]) {
  struct timespec ts[2];
  const struct timespec* times;
  if (!FromTimevals(tv, ts, &times)) return FailWith(EFAULT);
  return futimens(fd, times);
}
int utime(const char* path, const struct utimbuf* times) {
  times = Launder(times);
  if (times == nullptr) return UtimensAt(AT_FDCWD, path, nullptr, 0);
  if (!caller::Readable(times, sizeof(*times))) return FailWith(EFAULT);
  struct timespec ts[2] = {{times->actime, 0}, {times->modtime, 0}};
  return UtimensAt(AT_FDCWD, path, ts, 0);
}

}  // extern "C"
