#include "transport/worker.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace gkfs::transport {

Status ProtocolToTls(const std::string& protocol, std::string* tls) {
  static const struct {
    const char* name;
    const char* tls;
  } kProtocols[] = {
      {"ucx+tcp", "tcp"},          {"ucx+shm", "sm,tcp"},         {"ucx+all", "all"},
      {"ucx+rc", "rc,sm,tcp"},     {"ucx+ud", "ud,sm,tcp"},       {"ucx+dc", "dc,sm,tcp"},
  };
  for (const auto& p : kProtocols) {
    if (protocol == p.name) {
      *tls = p.tls;
      return Status::OK();
    }
  }
  return Status::Error(EINVAL, "unknown rpc protocol '" + protocol +
                                   "' (valid: ucx+tcp, ucx+shm, ucx+all, ucx+rc, ucx+ud, ucx+dc)");
}

std::string InterfaceForAddress(const std::string& address) {
  struct in_addr want;
  if (inet_pton(AF_INET, address.c_str(), &want) != 1) return "";
  struct ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return "";
  std::string name;
  for (auto* ifa = list; ifa != nullptr; ifa = ifa->ifa_next) {
    if (ifa->ifa_addr == nullptr || ifa->ifa_addr->sa_family != AF_INET) continue;
    auto* sin = reinterpret_cast<struct sockaddr_in*>(ifa->ifa_addr);
    if (sin->sin_addr.s_addr == want.s_addr) {
      name = ifa->ifa_name;
      break;
    }
  }
  freeifaddrs(list);
  return name;
}

Status ParseUri(const std::string& text, Uri* uri) {
  size_t scheme_end = text.find("://");
  size_t colon = text.rfind(':');
  if (scheme_end == std::string::npos || colon == std::string::npos || colon <= scheme_end + 3) {
    return Status::Error(EINVAL, "malformed daemon uri '" + text + "' (expected ucx+tcp://ADDR:PORT)");
  }
  Uri u;
  u.protocol = text.substr(0, scheme_end);
  u.address = text.substr(scheme_end + 3, colon - scheme_end - 3);
  char* end = nullptr;
  long port = strtol(text.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || port <= 0 || port > 65535) {
    return Status::Error(EINVAL, "malformed port in daemon uri '" + text + "'");
  }
  u.port = static_cast<uint16_t>(port);
  *uri = u;
  return Status::OK();
}

namespace {
Status UcsError(ucs_status_t status, const char* what) {
  return Status::Error(EIO, std::string(what) + ": " + ucs_status_string(status));
}
}  // namespace

Status Worker::Create(const std::string& protocol, const std::string& net_devices,
                      bool network_only, std::unique_ptr<Worker>* out) {
  std::string tls;
  Status s = ProtocolToTls(protocol, &tls);
  if (!s.ok()) return s;
  if (network_only) {
    size_t sm = tls.find("sm,");
    if (sm != std::string::npos) tls.erase(sm, 3);
  }
  return CreateWithTls(tls, net_devices, out);
}

// One shared-memory transport for messages (posix; sysv would allocate a second set of
// FIFOs at every start) and CMA for rendezvous.
Status Worker::CreateLocal(std::unique_ptr<Worker>* out) {
  return CreateWithTls("posix,cma", "", out, /*tls_from_environment=*/false);
}

Status Worker::CreateWithTls(const std::string& tls, const std::string& net_devices,
                             std::unique_ptr<Worker>* out, bool tls_from_environment) {
  ucp_config_t* config = nullptr;
  ucs_status_t st = ucp_config_read(nullptr, nullptr, &config);
  if (st != UCS_OK) return UcsError(st, "ucp_config_read");
  if (!tls_from_environment || getenv("UCX_TLS") == nullptr) ucp_config_modify(config, "TLS", tls.c_str());
  // An interface name narrows tcp to it; verbs devices have names of their own (mlx5_0:1),
  // so for rc/ud/dc UCX keeps its default choice.
  bool verbs = tls.rfind("rc", 0) == 0 || tls.rfind("ud", 0) == 0 || tls.rfind("dc", 0) == 0;
  if (getenv("UCX_NET_DEVICES") == nullptr && !net_devices.empty() && !verbs) {
    ucp_config_modify(config, "NET_DEVICES", net_devices.c_str());
  }

  std::unique_ptr<Worker> w(new Worker());
  ucp_params_t params{};
  params.field_mask = UCP_PARAM_FIELD_FEATURES | UCP_PARAM_FIELD_MT_WORKERS_SHARED;
  params.features = UCP_FEATURE_AM | UCP_FEATURE_WAKEUP;
  params.mt_workers_shared = 0;
  st = ucp_init(&params, config, &w->context_);
  ucp_config_release(config);
  if (st != UCS_OK) return UcsError(st, "ucp_init");

  ucp_worker_params_t wparams{};
  wparams.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE;
  wparams.thread_mode = UCS_THREAD_MODE_SERIALIZED;
  st = ucp_worker_create(w->context_, &wparams, &w->worker_);
  if (st != UCS_OK) return UcsError(st, "ucp_worker_create");
  st = ucp_worker_get_efd(w->worker_, &w->event_fd_);
  if (st != UCS_OK) return UcsError(st, "ucp_worker_get_efd");
  *out = std::move(w);
  return Status::OK();
}

Worker::~Worker() {
  if (worker_ != nullptr) ucp_worker_destroy(worker_);
  if (context_ != nullptr) ucp_cleanup(context_);
}

Status Worker::SetAmHandler(unsigned id, ucp_am_recv_callback_t callback, void* arg) {
  ucp_am_handler_param_t am{};
  am.field_mask = UCP_AM_HANDLER_PARAM_FIELD_ID | UCP_AM_HANDLER_PARAM_FIELD_CB |
                  UCP_AM_HANDLER_PARAM_FIELD_ARG | UCP_AM_HANDLER_PARAM_FIELD_FLAGS;
  am.id = id;
  am.cb = callback;
  am.arg = arg;
  am.flags = UCP_AM_FLAG_WHOLE_MSG;
  ucs_status_t st = ucp_worker_set_am_recv_handler(worker_, &am);
  return st == UCS_OK ? Status::OK() : UcsError(st, "setting an active-message handler");
}

std::string Worker::Address() const {
  ucp_address_t* address = nullptr;
  size_t length = 0;
  if (ucp_worker_get_address(worker_, &address, &length) != UCS_OK) return "";
  std::string bytes(reinterpret_cast<const char*>(address), length);
  ucp_worker_release_address(worker_, address);
  return bytes;
}

std::string HostIdentity() {
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  std::string id = host;
  if (FILE* f = fopen("/proc/sys/kernel/random/boot_id", "r")) {
    char boot[64] = {0};
    if (fgets(boot, sizeof(boot), f) != nullptr) id += std::string("/") + boot;
    fclose(f);
  }
  // Network namespaces of one kernel are hosts of their own (the multi-host tests): shared
  // memory would reach across them, but a client there must use the network like a
  // client on another machine.
  char ns[64] = {0};
  ssize_t n = readlink("/proc/self/ns/net", ns, sizeof(ns) - 1);
  if (n > 0) id += std::string("/") + std::string(ns, static_cast<size_t>(n));
  return id;
}

bool Worker::Progress() {
  bool any = false;
  while (ucp_worker_progress(worker_) != 0) any = true;
  return any;
}

bool Worker::Arm() { return ucp_worker_arm(worker_) != UCS_ERR_BUSY; }

void Worker::Signal() { ucp_worker_signal(worker_); }

}  // namespace gkfs::transport
