#include "transport/server.h"

#include <arpa/inet.h>
#include <sched.h>
#include <netinet/in.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "common/log.h"

namespace gkfs::transport {
namespace {

struct OutgoingReply {
  std::string header;
  Buffer payload;
};

void OnReplySent(void* request, ucs_status_t status, void* user_data) {
  delete static_cast<OutgoingReply*>(user_data);
  ucp_request_free(request);
}

uint64_t SteadyNs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

struct PendingReceive {
  class Server* server;
  void* incoming;
};

}  // namespace

Status Server::Create(const std::string& protocol, const std::string& address, uint16_t port,
                      bool with_shm, Handler handler, std::unique_ptr<Server>* out) {
  struct sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  if (inet_pton(AF_INET, address.c_str(), &sa.sin_addr) != 1) {
    return Status::Error(EINVAL, "listen address '" + address + "' is not an IPv4 address");
  }
  // A daemon restarted on its port must listen again while connections of its previous run
  // linger in TIME_WAIT. A transport (uct) setting, so it goes through the environment of
  // this, the daemon's own, process before UCX reads its configuration.
  setenv("UCX_TCP_CM_REUSEADDR", "y", 0);
  std::unique_ptr<Server> server(new Server());
  server->handler_ = std::move(handler);
  std::string devices = address == "0.0.0.0" ? "" : InterfaceForAddress(address);
  Status s = Worker::Create(protocol, devices, with_shm, &server->net_);
  if (s.ok() && with_shm) s = Worker::CreateLocal(&server->local_);
  if (!s.ok()) return s;
  server->net_rx_ = {server.get(), server->net_.get()};
  server->local_rx_ = {server.get(), server->local_.get()};
  server->max_header_ = SIZE_MAX;
  for (Receiver* rx : {&server->net_rx_, &server->local_rx_}) {
    if (rx->worker == nullptr) continue;
    ucp_worker_attr_t attr{};
    attr.field_mask = UCP_WORKER_ATTR_FIELD_MAX_AM_HEADER;
    ucp_worker_query(rx->worker->handle(), &attr);
    server->max_header_ = std::min<size_t>(server->max_header_, attr.max_am_header);
    if (!(s = rx->worker->SetAmHandler(rpc::kRequestAmId, &Server::OnRequest, rx)).ok()) return s;
  }
  server->poller_ = std::make_unique<Poller>(server->net_.get(), server->local_.get());

  ucp_listener_params_t lp{};
  lp.field_mask = UCP_LISTENER_PARAM_FIELD_SOCK_ADDR | UCP_LISTENER_PARAM_FIELD_CONN_HANDLER;
  lp.sockaddr.addr = reinterpret_cast<const struct sockaddr*>(&sa);
  lp.sockaddr.addrlen = sizeof(sa);
  lp.conn_handler.cb = &Server::OnConnection;
  lp.conn_handler.arg = server.get();
  ucs_status_t st = ucp_listener_create(server->net_->handle(), &lp, &server->listener_);
  if (st != UCS_OK) {
    return Status::Error(EADDRINUSE, "cannot listen on " + address + ":" + std::to_string(port) +
                                         ": " + ucs_status_string(st));
  }
  ucp_listener_attr_t la{};
  la.field_mask = UCP_LISTENER_ATTR_FIELD_SOCKADDR;
  ucp_listener_query(server->listener_, &la);
  server->port_ = ntohs(reinterpret_cast<struct sockaddr_in*>(&la.sockaddr)->sin_port);
  *out = std::move(server);
  return Status::OK();
}

Server::~Server() {
  for (auto& [ep, id] : endpoints_) {
    ucp_request_param_t p{};
    p.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
    p.flags = UCP_EP_CLOSE_FLAG_FORCE;
    void* req = ucp_ep_close_nbx(ep, &p);
    if (UCS_PTR_IS_PTR(req)) {
      while (ucp_request_check_status(req) == UCS_INPROGRESS) ucp_worker_progress(net_->handle());
      ucp_request_free(req);
    }
  }
  if (listener_ != nullptr) ucp_listener_destroy(listener_);
}

void Server::OnConnection(ucp_conn_request_h request, void* arg) {
  auto* self = static_cast<Server*>(arg);
  ucp_ep_params_t ep{};
  ep.field_mask = UCP_EP_PARAM_FIELD_CONN_REQUEST | UCP_EP_PARAM_FIELD_ERR_HANDLER |
                  UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE;
  ep.conn_request = request;
  ep.err_mode = UCP_ERR_HANDLING_MODE_PEER;
  ep.err_handler.cb = &Server::OnEndpointError;
  ep.err_handler.arg = self;
  ucp_ep_h handle = nullptr;
  ucs_status_t st = ucp_ep_create(self->net_->handle(), &ep, &handle);
  if (st != UCS_OK) {
    GKFS_LOG(kError, std::string("accepting a client failed: ") + ucs_status_string(st));
    return;
  }
  uint64_t id = self->next_connection_++;
  self->endpoints_[handle] = id;
  self->connections_[id] = handle;
  self->metrics_.SetConnections(self->endpoints_.size());
}

void Server::OnEndpointError(void* arg, ucp_ep_h ep, ucs_status_t status) {
  auto* self = static_cast<Server*>(arg);
  GKFS_LOG(kDebug, std::string("client endpoint closed: ") + ucs_status_string(status));
  auto it = self->endpoints_.find(ep);
  if (it == self->endpoints_.end()) return;
  self->connections_.erase(it->second);
  self->endpoints_.erase(it);
  self->metrics_.SetConnections(self->endpoints_.size());
  self->dead_.push_back(ep);
}

ucs_status_t Server::OnRequest(void* arg, const void* header, size_t header_length, void* data,
                               size_t length, const ucp_am_recv_param_t* param) {
  auto* rx = static_cast<Receiver*>(arg);
  Server* self = rx->server;
  rpc::RequestHeader h;
  if (header_length >= sizeof(h)) std::memcpy(&h, header, sizeof(h));
  // The body, if the header carries it, goes first in data, as if it had come in the data.
  size_t in_header = (h.flags & rpc::kBodyInHeader) ? h.body_length : 0;
  if (header_length < sizeof(h) || header_length != sizeof(h) + in_header ||
      !(param->recv_attr & UCP_AM_RECV_ATTR_FIELD_REPLY_EP)) {
    GKFS_LOG(kError, "dropping a request with a malformed header");
    return UCS_OK;
  }
  auto in = std::make_unique<Incoming>();
  in->ep = param->reply_ep;
  in->from_network = rx->worker == self->net_.get();
  in->header = h;
  in->data = Buffer(in_header + length);
  if (in_header > 0) std::memcpy(in->data.data(), static_cast<const char*>(header) + sizeof(h), in_header);
  char* dest = in->data.data() + in_header;
  if (param->recv_attr & UCP_AM_RECV_ATTR_FLAG_RNDV) {
    ucp_request_param_t p{};
    p.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
    p.cb.recv_am = &Server::OnRendezvousDone;
    Incoming* raw = in.release();
    p.user_data = new PendingReceive{self, raw};
    void* req = ucp_am_recv_data_nbx(rx->worker->handle(), data, dest, length, &p);
    if (req == nullptr) {
      OnRendezvousDone(nullptr, UCS_OK, length, p.user_data);
    } else if (UCS_PTR_IS_ERR(req)) {
      GKFS_LOG(kError, "receiving a request payload failed");
      delete static_cast<PendingReceive*>(p.user_data);
      delete raw;
    }
    return UCS_OK;
  }
  if (length > 0) std::memcpy(dest, data, length);
  self->ready_.push_back(std::move(in));
  return UCS_OK;
}

void Server::OnRendezvousDone(void* request, ucs_status_t status, size_t length, void* user_data) {
  auto* pending = static_cast<PendingReceive*>(user_data);
  std::unique_ptr<Incoming> in(static_cast<Incoming*>(pending->incoming));
  if (status == UCS_OK) pending->server->ready_.push_back(std::move(in));
  delete pending;
  if (request != nullptr) ucp_request_free(request);
}

void Server::Dispatch(Incoming& in) {
  Response response;
  const rpc::RequestHeader& h = in.header;
  ReplyToken token;
  token.ep = in.ep;
  token.request_id = h.request_id;
  token.verb = h.verb;
  token.dispatched_ns = SteadyNs();
  auto conn = endpoints_.find(in.ep);
  if (conn != endpoints_.end()) {
    token.connection = conn->second;
  } else if (in.from_network) {
    token.connection = ReplyToken::kDeadConnection;  // failed meanwhile; closed this turn
  }
  Secret presented;
  std::memcpy(presented.data(), h.secret, presented.size());
  if (h.magic != rpc::kMagic || h.verb >= static_cast<uint16_t>(rpc::Verb::kCount) ||
      h.body_length > in.data.size()) {
    response.status = EBADMSG;
    response.message = "malformed request header";
  } else if (require_secret_ && !SecretsEqual(presented, secret_)) {
    response.status = EACCES;
    response.message = "request without this file system's secret";
  } else {
    Request req;
    req.verb = static_cast<rpc::Verb>(h.verb);
    req.app_id = h.app_id;
    req.body = std::string_view(in.data.data(), h.body_length);
    req.payload = std::string_view(in.data.data() + h.body_length, in.data.size() - h.body_length);
    req.data = &in.data;
    token.bytes_in = req.payload.size();
    req.token = token;
    handler_(req, &response);
    if (response.deferred) return;
  }
  held_.emplace_back(token, std::move(response));
}

void Server::Complete(const ReplyToken& token, Response response) {
  {
    std::lock_guard<std::mutex> l(completed_mu_);
    completed_.emplace_back(token, std::move(response));
    has_completed_.store(true, std::memory_order_release);
  }
  poller_->Signal();
}

bool Server::SendTurnReplies() {
  // Completed replies are taken before the barrier: the updates of their handlers (on other
  // threads) came before their Complete(), so the barrier covers them.
  if (has_completed_.load(std::memory_order_acquire)) {
    std::lock_guard<std::mutex> l(completed_mu_);
    done_.swap(completed_);
    has_completed_.store(false, std::memory_order_relaxed);
  }
  Status barrier = barrier_ ? barrier_() : Status::OK();
  if (held_.empty() && done_.empty()) return false;
  if (!barrier.ok()) GKFS_LOG(kError, "replies held back: " + barrier.message());
  auto fail_if_barrier_failed = [&barrier](const ReplyToken& token, Response& response) {
    if (barrier.ok() || response.status != 0) return;
    if (token.verb < static_cast<uint16_t>(rpc::Verb::kCount) &&
        rpc::ChangesNoMetadata(static_cast<rpc::Verb>(token.verb))) {
      return;
    }
    response.status = barrier.code();
    response.message = barrier.message();
  };
  for (auto& [token, response] : held_) {
    fail_if_barrier_failed(token, response);
    SendReply(token, response);
  }
  held_.clear();
  for (auto& [token, response] : done_) {
    fail_if_barrier_failed(token, response);
    // A reply on a network endpoint (a large one goes by rendezvous) needs that worker
    // progressed on every turn until it is out.
    if (SendReply(token, response) && token.connection != 0) poller_->MarkNetBusy();
  }
  done_.clear();
  return true;
}

bool Server::TrySendSmallReply(ucp_ep_h ep, const rpc::ReplyHeader& h, const Response& response) {
  // Most replies are a header and a short body: sent from the stack when UCX can send them
  // at once (no allocation), else by the general path.
  constexpr size_t kSmall = 512;
  if ((h.status == 0 && response.payload_size > 0) || sizeof(h) + response.body.size() > kSmall) {
    return false;
  }
  char buf[kSmall];
  std::memcpy(buf, &h, sizeof(h));
  std::memcpy(buf + sizeof(h), response.body.data(), response.body.size());
  ucp_request_param_t p{};
  p.op_attr_mask = UCP_OP_ATTR_FLAG_FORCE_IMM_CMPL;
  void* req = ucp_am_send_nbx(ep, rpc::kReplyAmId, buf, sizeof(h) + response.body.size(), nullptr, 0, &p);
  if (req == nullptr) return true;
  if (UCS_PTR_IS_ERR(req) && UCS_PTR_STATUS(req) == UCS_ERR_NO_RESOURCE) return false;
  GKFS_LOG(kError, std::string("sending a reply failed: ") + ucs_status_string(UCS_PTR_STATUS(req)));
  return true;
}

bool Server::SendReply(const ReplyToken& token, Response& response) {
  metrics_.Record(token.verb, response.status, token.bytes_in,
                  response.status == 0 ? response.payload_size : 0, SteadyNs() - token.dispatched_ns);
  // Its endpoint is gone: failed before the request was dispatched (kDeadConnection, in no
  // map), or since (a reply held for the barrier, or completed on another thread).
  if (token.connection != 0 && connections_.count(token.connection) == 0) return false;
  if (response.status != 0 && !response.message.empty()) {
    GKFS_LOG(kDebug, "request " + std::to_string(token.request_id) + ": " + response.message);
  }
  // token.ep is one we accepted, or one UCX made for a client that connected by worker
  // address (shared memory). A failed one is closed only after ready_ and completed_ are
  // drained, so it is valid here.
  rpc::ReplyHeader h;
  h.status = response.status;
  h.request_id = token.request_id;
  if (response.status != 0) {
    response.body.clear();
    response.payload_size = 0;
  }
  if (sizeof(h) + response.body.size() > max_header_) {
    h.status = EOVERFLOW;
    response.body.clear();
    response.payload_size = 0;
  }
  h.body_length = static_cast<uint32_t>(response.body.size());
  if (TrySendSmallReply(token.ep, h, response)) return true;
  auto* out = new OutgoingReply();
  out->header.assign(reinterpret_cast<const char*>(&h), sizeof(h));
  out->header += response.body;
  out->payload = std::move(response.payload);
  size_t payload_size = h.status == 0 ? response.payload_size : 0;

  ucp_request_param_t p{};
  p.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
  p.cb.send = &OnReplySent;
  p.user_data = out;
  void* req = ucp_am_send_nbx(token.ep, rpc::kReplyAmId, out->header.data(), out->header.size(),
                              out->payload.data(), payload_size, &p);
  if (req == nullptr) {
    delete out;
  } else if (UCS_PTR_IS_ERR(req)) {
    GKFS_LOG(kError, std::string("sending a reply failed: ") + ucs_status_string(UCS_PTR_STATUS(req)));
    delete out;
  }
  return true;
}

void Server::CloseDeadEndpoints() {
  while (!dead_.empty()) {
    ucp_ep_h ep = dead_.front();
    dead_.pop_front();
    ucp_request_param_t p{};
    p.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
    p.flags = UCP_EP_CLOSE_FLAG_FORCE;
    void* req = ucp_ep_close_nbx(ep, &p);
    if (UCS_PTR_IS_PTR(req)) ucp_request_free(req);
  }
}

void Server::Run() {
  // After activity the loop spins for a short while (the next request of a busy client
  // follows within microseconds), then blocks in epoll: the machines have 2 cores. The
  // clock is read every kClockStride idle turns only; activity since the last read moves
  // the end of the spin then. At most kMaxHeld requests are handled before their replies
  // go (with the barrier between): a stream of requests does not hold the first ones back.
  constexpr auto kSpin = std::chrono::microseconds(30);
  constexpr size_t kMaxHeld = 32;
  constexpr unsigned kClockStride = 16;
  constexpr unsigned kYieldStride = 64;
  auto spin_until = std::chrono::steady_clock::now() + kSpin;
  bool active_since_clock = false;
  unsigned idle_turns = 0;
  while (!stop_.load(std::memory_order_acquire)) {
    bool active = poller_->Turn();
    // The requests this turn received, without progressing the workers in between: their
    // replies wait for the barrier anyway, and a Turn costs the first one latency.
    for (size_t n = 0; n < kMaxHeld && !ready_.empty(); ++n) {
      std::unique_ptr<Incoming> in = std::move(ready_.front());
      ready_.pop_front();
      Dispatch(*in);
      active = true;
    }
    if (!held_.empty() || has_completed_.load(std::memory_order_acquire)) active |= SendTurnReplies();
    if (!dead_.empty()) CloseDeadEndpoints();
    if (active) {
      active_since_clock = true;
      continue;
    }
    if (++idle_turns % kClockStride != 0) continue;
    auto now = std::chrono::steady_clock::now();
    if (active_since_clock) {
      spin_until = now + kSpin;
      active_since_clock = false;
    } else if (now >= spin_until) {
      if (barrier_) barrier_();  // updates no reply waited for (errors: the next turn's)
      poller_->Wait(200);
    } else if (idle_turns % kYieldStride == 0) {
      sched_yield();  // a client waiting for this core may be the next request's sender
    }
  }
  poller_->Drain();
}

void Server::Stop() {
  stop_.store(true, std::memory_order_release);
  poller_->Signal();
}

}  // namespace gkfs::transport
