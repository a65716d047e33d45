// bind(2) and connect(2) of AF_UNIX sockets at gkfs paths (node_objects.h): bind makes the
// socket's record in gkfs (EADDRINUSE if the name exists) and binds the kernel socket at the
// node-local path standing for it; connect looks the name up in gkfs (ENOENT, ECONNREFUSED
// for what is no socket) and connects there. Other addresses go to libc unchanged.
#include <sys/socket.h>
#include <sys/un.h>

#include <cstddef>
#include <cstring>

#include "preload/hooks.h"
#include "preload/node_objects.h"
#include "preload/permissions.h"

using namespace gkfs;
using namespace gkfs::preload;

namespace {

// The path of an AF_UNIX address naming a file (not abstract, not unnamed), or nullptr.
// *storage receives it NUL-terminated (sun_path need not be).
const char* UnixPath(const struct sockaddr* addr, socklen_t len, char (*storage)[sizeof(sockaddr_un::sun_path) + 1]) {
  if (addr == nullptr || len <= offsetof(struct sockaddr_un, sun_path) || !sys::IsMapped(addr, len)) return nullptr;
  const auto* un = reinterpret_cast<const struct sockaddr_un*>(addr);
  if (un->sun_family != AF_UNIX || un->sun_path[0] == '\0') return nullptr;
  size_t n = std::min<size_t>(len - offsetof(struct sockaddr_un, sun_path), sizeof(un->sun_path));
  std::memcpy(*storage, un->sun_path, n);
  (*storage)[n] = '\0';
  return *storage;
}

// Whether the address names a file in gkfs (then *t is its target): neither while the
// library's own work runs, nor for abstract, unnamed or non-AF_UNIX addresses.
bool GkfsAddress(const struct sockaddr* addr, socklen_t len, PathTarget* t) {
  char storage[sizeof(sockaddr_un::sun_path) + 1];
  const char* path = ReentryGuard::active() ? nullptr : UnixPath(addr, len, &storage);
  if (path == nullptr) return false;
  ResolveArg(path, t);
  return t->gkfs();
}

// The kernel address standing for inode ino.
struct sockaddr_un KernelAddress(uint64_t ino, socklen_t* len) {
  struct sockaddr_un out{};
  out.sun_family = AF_UNIX;
  std::string path = nodes::KernelPath(ino);
  std::memcpy(out.sun_path, path.c_str(), path.size() + 1);
  *len = static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + path.size() + 1);
  return out;
}

}  // namespace

extern "C" {

int bind(int fd, const struct sockaddr* addr, socklen_t len) {
  static const auto real = NextSymbol<decltype(&::bind)>("bind");
  PathTarget t;
  if (!GkfsAddress(addr, len, &t)) return real(fd, addr, len);
  uint32_t perms = 0777 & ~CurrentUmask();
  Status s = WithClient([&](Client& c) { return c.Mknod(t.internal, S_IFSOCK | perms, 0); });
  if (s.code() == EEXIST) return FailWith(EADDRINUSE);
  if (!s.ok()) return FailWith(s);
  Metadata md;
  if (StatInternal(t.internal, &md) != 0) return -1;
  nodes::PrepareBind(md.file_id);
  socklen_t klen = 0;
  struct sockaddr_un kaddr = KernelAddress(md.file_id, &klen);
  int r = real(fd, reinterpret_cast<const struct sockaddr*>(&kaddr), klen);
  if (r != 0) {
    int err = errno;
    WithClient([&](Client& c) { return c.Remove(t.internal); });  // the name goes with the bind
    errno = err;
  }
  return r;
}

int connect(int fd, const struct sockaddr* addr, socklen_t len) {
  static const auto real = NextSymbol<decltype(&::connect)>("connect");
  PathTarget t;
  if (!GkfsAddress(addr, len, &t)) return real(fd, addr, len);
  Metadata md;
  int found = LookupArg(&t, true, &md);
  if (found < 0) return -1;
  if (found > 0) {  // a link out of gkfs: connect to that kernel path
    struct sockaddr_un out{};
    out.sun_family = AF_UNIX;
    if (std::strlen(t.kernel_path) >= sizeof(out.sun_path)) return FailWith(ENAMETOOLONG);
    std::strcpy(out.sun_path, t.kernel_path);
    return real(fd, reinterpret_cast<const struct sockaddr*>(&out), sizeof(out));
  }
  if (!S_ISSOCK(md.mode)) return FailWith(ECONNREFUSED);
  if (!MayAccess(md, W_OK)) return FailWith(EACCES);
  socklen_t klen = 0;
  struct sockaddr_un kaddr = KernelAddress(md.file_id, &klen);
  return real(fd, reinterpret_cast<const struct sockaddr*>(&kaddr), klen);
}

}  // extern "C"
