// dlopen of libgkfs_client.so beside this library, and the UCX memory-hook decision.
#include "preload/client_loader.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <string>

#include "preload/client_entry.h"
#include "preload/fd_table.h"
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

bool ApplicationUsesUcx() {
  void* ucs = dlopen("libucs.so.0", RTLD_LAZY | RTLD_NOLOAD);
  if (ucs == nullptr) return false;
  dlclose(ucs);
  return true;
}

// Sets an environment variable for the duration of one scope (the UCX settings below are
// read once, when libucs loads), unless the user set it.
class ScopedDefault {
 public:
  ScopedDefault(const char* name, const char* value, bool wanted)
      : name_(name), set_(wanted && std::getenv(name) == nullptr) {
    if (set_) setenv(name, value, 0);
  }
  ~ScopedDefault() {
    if (set_) unsetenv(name_);  // exec'd programs choose for themselves
  }

 private:
  const char* name_;
  bool set_;
};

// dlopen of the client library. When this library is the one loading UCX, UCX's log stays
// out of the program's output: UCX writes to stdout by default, so it goes to stderr (or
// nowhere while stderr is a gkfs file: UCX would write into the memfd behind it, past the
// hooks), and only errors unless LIBGKFS_LOG asks for more. Nor does UCX install its error
// handlers (SIGSEGV, SIGBUS, SIGILL, SIGFPE, and SIGHUP for its debug dumps): the program's
// signal dispositions stay its own.
void* OpenClientLibrary(const std::string& path, bool loads_ucx) {
  ScopedDefault file("UCX_LOG_FILE", fds::MaybeOurs(2) ? "/dev/null" : "stderr", loads_ucx);
  ScopedDefault level("UCX_LOG_LEVEL", "error",
                      loads_ucx && config().log_level < LogLevel::kInfo);
  ScopedDefault errors("UCX_HANDLE_ERRORS", "none", loads_ucx);
  ScopedDefault error_signals("UCX_ERROR_SIGNALS", "", loads_ucx);
  ScopedDefault debug_signal("UCX_DEBUG_SIGNO", "0", loads_ucx);
  return dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
}

Status Load(ClientConnectFn* connect, bool* quiet) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_connect == nullptr) {
    // UCX's memory events stay as they are when the application loaded UCX itself (its
    // registration caches rely on them) or the user chose with UCX_MEM_EVENTS.
    bool loads_ucx = !ApplicationUsesUcx();
    g_quiet_memory_hooks = loads_ucx && std::getenv("UCX_MEM_EVENTS") == nullptr;
    std::string path = OwnDirectory() + kClientLibrary;
    void* handle = OpenClientLibrary(path, loads_ucx);
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
