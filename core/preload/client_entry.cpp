// libgkfs_client.so's entry point (client_entry.h): Client::Connect for the intercept library.
#include "preload/client_entry.h"

#include <ucm/api/ucm.h>

#include <cerrno>
#include <memory>

namespace {

// UCX's memory events patch mmap/munmap/brk and malloc process-wide to keep registration
// caches coherent. Our client registers no application memory (tcp and shared memory copy
// through UCX's own buffers), and the patched mmap would bypass our own mmap hook, so they
// go off while nobody else in the process uses UCX. "Safe to modify before using UCM
// functions" (ucm.h): nothing has called into UCM yet when the caller says quiet.
void QuietMemoryHooks() {
  ucm_global_config_t opts = ucm_global_opts;
  opts.enable_events = 0;
  ucm_set_global_opts(&opts);
}

}  // namespace

extern "C" __attribute__((visibility("default"))) int gkfs_client_connect_v3(
    const gkfs::ClientOptions* options, int quiet_memory_hooks, gkfs::Client** out,
    gkfs::Status* error) {
  static_assert(std::is_same_v<decltype(&gkfs_client_connect_v3), gkfs::preload::ClientConnectFn>,
                "the entry point matches its declaration");
  if (quiet_memory_hooks) QuietMemoryHooks();
  std::unique_ptr<gkfs::Client> client;
  gkfs::Status s = gkfs::Client::Connect(*options, &client);
  if (!s.ok()) {
    *error = s;
    return s.code() > 0 ? s.code() : EIO;
  }
  *out = client.release();
  return 0;
}
