// Loads libgkfs_client.so from the directory of libgkfs_intercept.so on first use and connects
// a Client through it (client_entry.h). The library stays loaded for the life of the process.
#pragma once

#include <memory>

#include "gkfs/client.h"

namespace gkfs::preload {

// Client::Connect through the client library. Errors: EIO naming the library when it cannot
// be loaded, else those of Client::Connect. REQUIRES: a ReentryGuard is alive (dlopen opens
// and maps files, which must reach the kernel).
Status ConnectClient(const ClientOptions& options, std::unique_ptr<Client>* out);

}  // namespace gkfs::preload
