// Worker: one UCP context and one UCP worker with wake-up support, plus the mapping from
// gkfs protocol names (-P ucx+tcp, ...) to UCX transport settings. Owns both handles and
// destroys them. UCX is not fork-safe: its global async thread does not survive fork, so a
// process must destroy every Worker before it forks if the child is to use UCX.
// Thread model: serialized - one thread at a time may call Progress()/Arm(); Signal() may be
// called from any thread. Waiting for events is the Poller's (poller.h).
#pragma once

#include <ucp/api/ucp.h>

#include <memory>
#include <string>

#include "gkfs/status.h"

namespace gkfs::transport {

// UCX_TLS value for a protocol name: ucx+tcp, ucx+shm, ucx+all, ucx+rc, ucx+ud, ucx+dc.
// EINVAL for anything else (the message lists the valid names).
Status ProtocolToTls(const std::string& protocol, std::string* tls);

// Identifies this machine (hostname, kernel boot id and network namespace): equal on both
// sides means a worker-address connection can use shared memory.
std::string HostIdentity();

// The network interface that holds a local IPv4 address ("127.0.0.1" -> "lo"), or "".
std::string InterfaceForAddress(const std::string& address);

// A URI "ucx+tcp://10.0.0.1:4000" split into its parts. EINVAL if malformed.
struct Uri {
  std::string protocol;  // "ucx+tcp"
  std::string address;   // "10.0.0.1"
  uint16_t port = 0;
};
Status ParseUri(const std::string& text, Uri* uri);

class Worker {
 public:
  // The network worker of a protocol. net_devices: UCX_NET_DEVICES to use ("lo"), empty
  // for UCX's default. network_only: without the protocol's shared-memory transports (a
  // local worker carries those). Settings the user put in the environment (UCX_TLS,
  // UCX_NET_DEVICES) win over ours.
  static Status Create(const std::string& protocol, const std::string& net_devices,
                       bool network_only, std::unique_ptr<Worker>* out);
  // The local worker of --auto-sm: shared memory (posix) and CMA only, whatever UCX_TLS
  // says (it chooses the network worker's transports; both ends of a local connection must
  // have the same, and gkfs-ctl sets UCX_TLS=tcp for daemons on loopback), reached by peers
  // on this host through its Address(). --no-auto-sm is how shared memory is turned off.
  static Status CreateLocal(std::unique_ptr<Worker>* out);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  ucp_worker_h handle() const { return worker_; }
  // Routes whole active messages with `id` to callback(arg, ...), on the progress thread.
  Status SetAmHandler(unsigned id, ucp_am_recv_callback_t callback, void* arg);
  // The packed worker address (opaque bytes) peers on this host can connect to.
  std::string Address() const;
  // Runs ucp_worker_progress until it reports no more work. True if anything happened.
  bool Progress();
  // Arms the event fd for the next event; false if events are already pending (progress
  // again instead of waiting).
  bool Arm();
  // Readable after Arm() once something happens (a message, Signal()).
  int event_fd() const { return event_fd_; }
  // Wakes a waiter on event_fd(); from any thread.
  void Signal();

 private:
  Worker() = default;
  // tls_from_environment: a UCX_TLS the user set wins over tls.
  static Status CreateWithTls(const std::string& tls, const std::string& net_devices,
                              std::unique_ptr<Worker>* out, bool tls_from_environment = true);
  ucp_context_h context_ = nullptr;
  ucp_worker_h worker_ = nullptr;
  int event_fd_ = -1;
};

}  // namespace gkfs::transport
