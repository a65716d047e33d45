// Server: the daemon side of the transport. Listens on ADDR:PORT (UCP sockaddr listener),
// accepts endpoints, receives request active messages (eager or rendezvous) and hands each
// complete request to the handler on the progress thread. The replies of the requests one
// turn dispatched go out together, after the reply barrier (the daemon's: the metadata
// log written out, one write for the whole turn).
// Owns its Worker, listener and endpoints. Run() is the progress thread's body; Stop() may
// be called from any thread (and is async-signal-safe enough: it sets a flag and signals).
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/buffer.h"
#include "common/secret.h"
#include "rpc/schema.h"
#include "transport/poller.h"
#include "transport/request_metrics.h"
#include "transport/worker.h"

namespace gkfs::transport {

// Where a deferred reply goes. Copyable; valid in any thread. If the client has gone
// meanwhile, Server::Complete drops the reply.
struct ReplyToken {
  // 0: an endpoint UCX made (worker-address client), never closed; kDeadConnection: a
  // network endpoint that failed before its request was dispatched (replies are dropped).
  static constexpr uint64_t kDeadConnection = UINT64_MAX;
  uint64_t connection = 0;
  ucp_ep_h ep = nullptr;
  uint64_t request_id = 0;
  // For RequestMetrics: the verb (kCount and above: a malformed header), when the request was
  // dispatched (steady clock, ns) and its payload bytes.
  uint16_t verb = UINT16_MAX;
  uint64_t dispatched_ns = 0;
  uint64_t bytes_in = 0;
};

struct Request {
  rpc::Verb verb;
  uint32_t app_id = 0;       // the client's application id (LIBGKFS_APP_ID / Slurm job id)
  std::string_view body;     // the encoded request struct
  std::string_view payload;  // bulk bytes following the body (writes)
  Buffer* data = nullptr;    // owns body and payload; a deferring handler may move it away
  ReplyToken token;          // for a deferred reply
};

struct Response {
  bool deferred = false;     // the handler replies later through Server::Complete
  int status = 0;            // errno value, 0 = success
  std::string message;       // logged for errors, not sent
  std::string body;          // encoded reply struct; must fit the AM header
  Buffer payload;            // bulk bytes (reads, directory pages)
  size_t payload_size = 0;   // bytes of payload to send (<= payload.size())
};

class Server {
 public:
  using Handler = std::function<void(const Request&, Response*)>;

  // with_shm: also offer shared memory to clients that connect by worker address.
  static Status Create(const std::string& protocol, const std::string& address, uint16_t port,
                       bool with_shm, Handler handler, std::unique_ptr<Server>* out);
  ~Server();

  uint16_t port() const { return port_; }
  // The address clients on this host connect to by worker address (--auto-sm): the local
  // (shared-memory) worker's.
  std::string worker_address() const { return (local_ ? local_ : net_)->Address(); }
  // From now on requests must carry this secret; others get EACCES.
  void RequireSecret(const Secret& secret) {
    secret_ = secret;
    require_secret_ = true;
  }
  // What must happen before replies go out: every reply is sent after a call of barrier that
  // began after its request was handled (or its Complete() came). A failed barrier turns the
  // successful replies it held back into that error, except those of verbs that change no
  // metadata (rpc::ChangesNoMetadata: reads, stats, pings). That error does not mean "not
  // applied": the update was made in memory and may or may not have reached the log. Also
  // called before the thread blocks, for updates no reply waits for. REQUIRES: before Run();
  // called on the progress thread.
  using Barrier = std::function<Status()>;
  void SetReplyBarrier(Barrier barrier) { barrier_ = std::move(barrier); }
  // Serves until Stop(). Blocks in epoll when idle.
  void Run();
  void Stop();
  // A deferred reply, from any thread: sent by the progress thread soon after.
  void Complete(const ReplyToken& token, Response response);
  // Counts of the requests answered so far; readable from any thread.
  const RequestMetrics& metrics() const { return metrics_; }

 private:
  struct Incoming {
    ucp_ep_h ep;
    bool from_network = false;  // received by the network worker (else the local one)
    rpc::RequestHeader header;
    Buffer data;
  };
  // The argument of a worker's request handler: which worker received the message.
  struct Receiver {
    Server* server = nullptr;
    Worker* worker = nullptr;
  };
  Server() = default;
  static void OnConnection(ucp_conn_request_h request, void* arg);
  static void OnEndpointError(void* arg, ucp_ep_h ep, ucs_status_t status);
  static ucs_status_t OnRequest(void* arg, const void* header, size_t header_length, void* data,
                                size_t length, const ucp_am_recv_param_t* param);
  static void OnRendezvousDone(void* request, ucs_status_t status, size_t length, void* user_data);
  // Handles in; its reply joins held_ (unless the handler defers it).
  void Dispatch(Incoming& in);
  // The barrier, then every held reply and every completed one taken before it.
  bool SendTurnReplies();
  // False if the reply was dropped: its connection is gone.
  bool SendReply(const ReplyToken& token, Response& response);
  // Sends a reply without payload at once from the stack; false if UCX cannot (then the
  // caller takes the general path).
  bool TrySendSmallReply(ucp_ep_h ep, const rpc::ReplyHeader& h, const Response& response);
  void CloseDeadEndpoints();

  std::unique_ptr<Worker> net_;    // the listener and its clients
  std::unique_ptr<Worker> local_;  // --auto-sm clients on this host; null without
  std::unique_ptr<Poller> poller_;
  Receiver net_rx_, local_rx_;
  ucp_listener_h listener_ = nullptr;
  Handler handler_;
  Barrier barrier_;
  uint16_t port_ = 0;
  size_t max_header_ = 0;
  std::atomic<bool> stop_{false};
  bool require_secret_ = false;
  Secret secret_{};
  std::mutex completed_mu_;
  std::deque<std::pair<ReplyToken, Response>> completed_;  // GUARDED_BY(completed_mu_)
  std::atomic<bool> has_completed_{false};  // completed_ is not empty (checked without the lock)
  // All below: progress thread only.
  std::unordered_map<ucp_ep_h, uint64_t> endpoints_;         // accepted ep -> connection id
  std::unordered_map<uint64_t, ucp_ep_h> connections_;       // live connection ids
  uint64_t next_connection_ = 1;
  std::deque<ucp_ep_h> dead_;
  std::deque<std::unique_ptr<Incoming>> ready_;
  std::vector<std::pair<ReplyToken, Response>> held_;  // replies waiting for the barrier
  std::deque<std::pair<ReplyToken, Response>> done_;   // completed_ taken for this turn
  RequestMetrics metrics_;  // written by the progress thread only
};

}  // namespace gkfs::transport
