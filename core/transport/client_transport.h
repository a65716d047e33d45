// ClientTransport: the client side of the transport. Holds one endpoint per daemon (made
// lazily on first use, re-made after a failure), sends requests and matches replies by
// request id. A Call is owned by the caller and must outlive Run(); reply payloads are
// received straight into the caller's buffers (scatter list) or into Call::payload.
// Not thread-safe: one thread uses it at a time (gkfs::Client leases one per call from a
// TransportPool, so that threads' calls run concurrently on transports of their own).
//
// Failures (docs/operations.md, "Failures"):
// * A daemon whose process died (host up) resets the connection: its calls fail with
//   EHOSTDOWN at once, and the next call makes a fresh endpoint.
// * Restarted daemon, stale endpoint. UCX learns that a peer closed the connection only when
//   the worker is progressed. Run() first drains the network unless it did so less than
//   kDrainAfterIdle ago, so a closure that reached this host while the process was idle
//   marks the endpoint failed before anything is sent on it, and the call goes out once, on
//   a fresh endpoint: nothing was sent to the dead daemon. (A restart takes far longer
//   than kDrainAfterIdle.)
// * Resend rule. A call whose endpoint fails while the call is in flight, on an endpoint
//   that had already carried a reply (a working connection, not one that never reached
//   the daemon), is sent once more on a fresh endpoint if its verb is safe to repeat
//   (rpc/repeatable.h: reads, writes of given bytes, sets of given values); any other
//   call fails with EHOSTDOWN, since the old daemon may have executed it (an exclusive
//   create resent would answer EEXIST for the file it made itself).
// * Silent daemon (frozen process or node, link down): a call that makes no network
//   progress for timeout_ms fails with EHOSTDOWN ("did not answer within") and marks the
//   daemon down (liveness.h). Calls that need a down daemon fail at once with EHOSTDOWN
//   ("marked down"); calls to other daemons are not affected. The first call that needs it
//   down_recheck_ms after it was marked rechecks it: a Ping on a fresh endpoint, waiting at
//   most recheck_timeout_ms (capped by timeout_ms), sent beside the Run's other calls. Any
//   answer (a reply, or the host refusing the connection) clears the mark and the held
//   calls are sent; silence fails them at once and marks the daemon down for another
//   down_recheck_ms.
// * Connecting: a question any daemon answers alike (fs_config) goes to a few daemons at once
//   through RunFirst(), which returns at the first good reply; a silent daemon among them
//   costs nothing then, and is not marked down.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/secret.h"
#include "rpc/schema.h"
#include "transport/liveness.h"
#include "transport/poller.h"
#include "transport/worker.h"

namespace gkfs::transport {

struct Segment {  // where reply payload bytes go, in order
  void* data;
  size_t length;
};

struct Call {
  // Inputs.
  uint32_t daemon = 0;
  rpc::Verb verb = rpc::Verb::kCount;
  std::string body;                       // encoded request struct
  std::vector<Segment> payload;           // bulk bytes sent after the body, in order
  std::vector<Segment> sink;              // reply payload destinations; empty: into payload_in
  // Called with the reply body before the payload is received; may set `sink` from it.
  std::function<void(Call&)> prepare_sink;
  // Outputs.
  bool done = false;
  Status status;                          // transport or daemon error
  std::string reply_body;
  std::string payload_in;
  size_t payload_received = 0;

  // Internal state of the transport.
  uint8_t sends = 0;                      // times sent in this Run() (the resend rule)
  bool resend = false;                    // its endpoint failed: send again on a fresh one
  uint64_t id = 0;
  void* send_request = nullptr;
  void* recv_request = nullptr;
  ucp_worker_h recv_worker = nullptr;     // the worker recv_request was posted on
  std::vector<ucp_dt_iov_t> iov;
  std::string header;                     // RequestHeader, and the body when it fits
};

class ClientTransport {
 public:
  struct Options {
    int timeout_ms = 10000;  // how long Run() waits with no network progress
    // A daemon that timed out is marked down; the first call after down_recheck_ms
    // rechecks it, waiting at most recheck_timeout_ms (see the failure rules above).
    int down_recheck_ms = 5000;
    int recheck_timeout_ms = 1000;
    Secret secret{};         // put in every request header
    uint32_t app_id = 0;     // put in every request header
    bool with_shm = false;   // also open the shared-memory transports (AttachSharedMemory)
    // Which daemons are down, shared by the transports of one client; null: its own.
    std::shared_ptr<Liveness> liveness;
  };
  // uris: one per daemon, in placement order.
  static Status Create(const std::vector<std::string>& uris, const Options& options,
                       std::unique_ptr<ClientTransport>* out);
  ~ClientTransport();
  // Another transport to the same daemons with the same options, sharing this one's
  // liveness. Reads only what Create set, so it may run while another thread uses this.
  Status Clone(std::unique_ptr<ClientTransport>* out) const;

  size_t num_daemons() const { return daemons_.size(); }
  int timeout_ms() const { return options_.timeout_ms; }
  // Shared memory (--auto-sm): whether daemon's offer is still to be asked for, and the
  // answer. With an address, calls go over a worker-address endpoint (UCX picks shared
  // memory on one host); the tcp endpoint stays open as the liveness check, because
  // shared-memory endpoints have no peer-failure detection. REQUIRES for an address: this
  // process's effective uid is the daemon's. A process whose effective uid changes later
  // (a program dropping privileges) cannot map the daemon's segments or read its memory
  // (UCX aborts the process on a failed CMA read): while its uid differs, its calls take
  // the network endpoint.
  bool NeedsIntroduction(uint32_t daemon) const;
  void AttachSharedMemory(uint32_t daemon, const std::string& worker_address);
  bool UsesSharedMemory(uint32_t daemon) const { return OverSharedMemory(daemons_[daemon], geteuid()); }
  // Sends every call, then progresses until all are done or it idles for timeout_ms. Each
  // call's status says how it ended (EHOSTDOWN: daemon unreachable, timed out or marked
  // down; see the failure rules above).
  void Run(const std::vector<Call*>& calls);
  // Run() for a question any of the daemons answers alike (fs_config at connect): returns
  // once one call has a good reply, or all are done. The calls still out end with
  // ECANCELED and their daemons are not marked down (a late reply is dropped as stale).
  void RunFirst(const std::vector<Call*>& calls);

  // Run() drains the network before sending when it last did so this long ago.
  static constexpr std::chrono::milliseconds kDrainAfterIdle{1};
  // Tests of the resend rule: stale endpoints that the drain would have caught.
  void TEST_SetDrainAfterIdle(std::chrono::milliseconds after) { drain_after_idle_ = after; }

 private:
  using Clock = std::chrono::steady_clock;
  struct Daemon {
    std::string uri;
    Uri parsed;
    ucp_ep_h ep = nullptr;   // sockaddr (tcp) endpoint, error mode PEER
    ucp_ep_h shm_ep = nullptr;  // worker-address endpoint, error mode NONE
    uid_t shm_uid = 0;          // the effective uid shm_ep was made with
    bool introduced = false; // the shared-memory offer was asked for
    bool failed = false;     // set by the error callback; the eps are re-made on next use
    bool answered = false;   // a reply came over the current endpoints
    // The recheck of a daemon marked down, while rechecking (at most one per Run()).
    bool rechecking = false;
    Call recheck;
    Clock::time_point recheck_deadline;
    ClientTransport* owner = nullptr;
  };
  // The argument of a worker's reply handler: which worker received the message.
  struct Receiver {
    ClientTransport* transport = nullptr;
    Worker* worker = nullptr;
  };
  ClientTransport() = default;
  static bool OverSharedMemory(const Daemon& d, uid_t euid) { return d.shm_ep != nullptr && d.shm_uid == euid; }
  // The poller over the workers there are, and the AM header size both take.
  void SetUpPolling();
  // The shared-memory worker, made on the first offer (AttachSharedMemory).
  Status MakeLocalWorker();
  Status Connect(Daemon& d);
  // Sends call, fails it at once (its daemon is down) or holds it for a recheck.
  void Start(Call* call, Clock::time_point now);
  void Send(Call* call);
  void StartRecheck(uint32_t daemon, Clock::time_point now);
  int RecheckTimeoutMs() const { return std::min(options_.recheck_timeout_ms, options_.timeout_ms); }
  // The recheck of daemon got no answer in time: it stays down, its held calls fail.
  void FailRecheck(uint32_t daemon, const std::vector<Call*>& calls, Clock::time_point now);
  // Acts on what callbacks flagged (attention_): answered rechecks, calls to resend.
  void Settle(const std::vector<Call*>& calls);
  bool AllDone(const std::vector<Call*>& calls) const;
  // Run() and RunFirst() (first_good: return at the first good reply).
  void RunUntil(const std::vector<Call*>& calls, bool first_good);
  // Run() ran out of time: fails what is left, marks those daemons down, closes their
  // endpoints and waits until UCX no longer points into the calls' buffers.
  void GiveUp(const std::vector<Call*>& calls, Clock::time_point now);
  // RunFirst() has its answer: ends what is left with ECANCELED, closing only the endpoints
  // UCX still uses for them (a send or a reply under way), and waits as GiveUp does.
  void DropRest(const std::vector<Call*>& calls);
  void WaitReleased(const std::vector<Call*>& calls);
  void Finish(Call* call, Status status);
  void FailDaemon(uint32_t daemon, const Status& status);
  Call* FindPending(uint64_t id) const;
  void ErasePending(uint64_t id);
  void CloseEndpoint(Daemon& d);
  static void OnEndpointError(void* arg, ucp_ep_h ep, ucs_status_t status);
  static void OnSent(void* request, ucs_status_t status, void* user_data);
  static ucs_status_t OnReply(void* arg, const void* header, size_t header_length, void* data,
                              size_t length, const ucp_am_recv_param_t* param);
  static void OnReplyData(void* request, ucs_status_t status, size_t length, void* user_data);

  std::unique_ptr<Worker> net_;    // tcp (or verbs) endpoints: every daemon's liveness
  std::unique_ptr<Worker> local_;  // --auto-sm: worker-address endpoints; null until offered
  std::unique_ptr<Poller> poller_;
  Receiver net_rx_, local_rx_;
  std::vector<std::string> uris_;  // as given to Create
  std::vector<Daemon> daemons_;
  // Calls sent and not yet answered: a handful at a time (one per daemon a call group
  // reaches), so a vector searched by id beats a hash map that allocates per call.
  std::vector<Call*> pending_;
  uint64_t next_id_ = 1;
  std::shared_ptr<Liveness> liveness_;
  Clock::time_point last_drain_;
  std::chrono::milliseconds drain_after_idle_ = kDrainAfterIdle;
  size_t rechecks_ = 0;     // daemons rechecking
  bool attention_ = false;  // a callback left work for Settle()
  Options options_;
  size_t max_header_ = 0;  // the largest AM header both workers take
  uid_t euid_ = 0;         // the process's effective uid when this Run() began
};

}  // namespace gkfs::transport
