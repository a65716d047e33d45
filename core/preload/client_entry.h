// The seam between the two preload libraries: libgkfs_intercept.so (hooks, loaded into every
// process) and libgkfs_client.so (the client core with UCX, loaded on first use). The client
// library exports one extern "C" function; the intercept library finds it with dlsym.
//
// Both libraries come from one build, so the C++ types crossing the seam (ClientOptions,
// Status, the virtual interface of Client) have one layout; the symbol's _v1 suffix changes
// whenever that contract does. Both link libstdc++ statically and allocate with malloc.
#pragma once

#include "gkfs/client.h"

namespace gkfs::preload {

constexpr char kClientLibrary[] = "libgkfs_client.so";
constexpr char kClientConnectSymbol[] = "gkfs_client_connect_v3";

// Connects a Client (Client::Connect). quiet_memory_hooks: turn UCX's memory events (hooks
// on mmap, munmap, brk and malloc) off before UCX starts; the caller passes true only when it
// loaded UCX itself, i.e. the application does not use UCX. Returns 0 and sets *out (owned by
// the caller), or returns the errno and sets *error.
using ClientConnectFn = int (*)(const ClientOptions* options, int quiet_memory_hooks,
                                Client** out, Status* error);

}  // namespace gkfs::preload
