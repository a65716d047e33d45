// dlopen of libgkfs_client.so beside this library, and the UCX memory-hook decision.
#include "preload/client_loader.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <string>

#include "preload/client_entry.h"
#include "preload/preload.h"

namespace gkfs::preload {

namespace {

std::mutex g_mu;  // constant-initialised: serialises the first load
ClientConnectFn g_connect = nullptr;  // GUARDED_BY(g_mu)
bool g_quiet_memory_hooks = false;    // GUARDED_BY(g_mu)

// The directory this library was loaded from, with a trailing slash ("" if unknown).
std::string OwnDirectory() {
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&ConnectClient), &info) == 0 || info.dli_fname == nullptr) {
    return "";
  }
  std::string path = info.dli_fname;
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash + 1);
}

// UCX's memory events stay as they are when the application loaded UCX itself (its
// registration caches rely on them) or the user chose with UCX_MEM_EVENTS.
bool ShouldQuietMemoryHooks() {
  if (std::getenv("UCX_MEM_EVENTS") != nullptr) return false;
  void* ucs = dlopen("libucs.so.0", RTLD_LAZY | RTLD_NOLOAD);
  if (ucs == nullptr) return true;
  dlclose(ucs);
  return false;
}

Status Load(ClientConnectFn* connect, bool* quiet) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_connect == nullptr) {
    g_quiet_memory_hooks = ShouldQuietMemoryHooks();
    std::string path = OwnDirectory() + kClientLibrary;
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* why = dlerror();
      return Status::Error(EIO, "cannot load the gkfs client library: " +
                                    std::string(why != nullptr ? why : path));
    }
    g_connect = reinterpret_cast<ClientConnectFn>(dlsym(handle, kClientConnectSymbol));
    if (g_connect == nullptr) {
      return Status::Error(EIO, path + " lacks " + kClientConnectSymbol +
                                    " (a library from another gkfs build?)");
    }
    Log(LogLevel::kDebug, "loaded %s%s", path.c_str(),
        g_quiet_memory_hooks ? "; UCX memory events off" : "");
  }
  *connect = g_connect;
  *quiet = g_quiet_memory_hooks;
  return Status::OK();
}

}  // namespace

Status ConnectClient(const ClientOptions& options, std::unique_ptr<Client>* out) {
  ClientConnectFn connect = nullptr;
  bool quiet = false;
  Status s = Load(&connect, &quiet);
  if (!s.ok()) return s;
  Client* client = nullptr;
  Status error;
  if (connect(&options, quiet ? 1 : 0, &client, &error) != 0) return error;
  out->reset(client);
  return Status::OK();
}

}  // namespace gkfs::preload
