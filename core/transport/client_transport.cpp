#include "transport/client_transport.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include "common/log.h"

namespace gkfs::transport {

constexpr int kSpinMicros = 50;

Status ClientTransport::Create(const std::vector<std::string>& uris, const Options& options,
                               std::unique_ptr<ClientTransport>* out) {
  std::unique_ptr<ClientTransport> t(new ClientTransport());
  t->options_ = options;
  t->daemons_.resize(uris.size());
  bool all_loopback = true;
  std::string protocol;
  for (size_t i = 0; i < uris.size(); ++i) {
    Daemon& d = t->daemons_[i];
    d.uri = uris[i];
    d.owner = t.get();
    Status s = ParseUri(d.uri, &d.parsed);
    if (!s.ok()) return s;
    if (d.parsed.address.rfind("127.", 0) != 0) all_loopback = false;
    protocol = d.parsed.protocol;
  }
  Status s = Worker::Create(protocol, all_loopback ? "lo" : "", options.with_shm, &t->worker_);
  if (!s.ok()) return s;
  if (!(s = t->worker_->SetAmHandler(rpc::kReplyAmId, &ClientTransport::OnReply, t.get())).ok()) return s;
  *out = std::move(t);
  return Status::OK();
}

ClientTransport::~ClientTransport() {
  for (auto& d : daemons_) CloseEndpoint(d);
}

Status ClientTransport::Connect(Daemon& d) {
  struct sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(d.parsed.port);
  if (inet_pton(AF_INET, d.parsed.address.c_str(), &sa.sin_addr) != 1) {
    return Status::Error(EINVAL, "daemon address '" + d.parsed.address + "' is not IPv4");
  }
  ucp_ep_params_t ep{};
  ep.field_mask = UCP_EP_PARAM_FIELD_FLAGS | UCP_EP_PARAM_FIELD_SOCK_ADDR |
                  UCP_EP_PARAM_FIELD_ERR_HANDLER | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE;
  ep.flags = UCP_EP_PARAMS_FLAGS_CLIENT_SERVER;
  ep.sockaddr.addr = reinterpret_cast<const struct sockaddr*>(&sa);
  ep.sockaddr.addrlen = sizeof(sa);
  ep.err_mode = UCP_ERR_HANDLING_MODE_PEER;
  ep.err_handler.cb = &ClientTransport::OnEndpointError;
  ep.err_handler.arg = &d;
  ucs_status_t st = ucp_ep_create(worker_->handle(), &ep, &d.ep);
  if (st != UCS_OK) {
    d.ep = nullptr;
    return Status::Error(EHOSTDOWN, "cannot connect to daemon " + d.uri + ": " + ucs_status_string(st));
  }
  d.failed = false;
  return Status::OK();
}

bool ClientTransport::NeedsIntroduction(uint32_t daemon) const {
  const Daemon& d = daemons_[daemon];
  return options_.with_shm && (!d.introduced || d.failed);
}

void ClientTransport::AttachSharedMemory(uint32_t daemon, const std::string& worker_address) {
  Daemon& d = daemons_[daemon];
  d.introduced = true;
  if (worker_address.empty() || d.shm_ep != nullptr) return;
  ucp_ep_params_t ep{};
  ep.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE;
  ep.address = reinterpret_cast<const ucp_address_t*>(worker_address.data());
  ep.err_mode = UCP_ERR_HANDLING_MODE_NONE;
  if (ucp_ep_create(worker_->handle(), &ep, &d.shm_ep) != UCS_OK) {
    d.shm_ep = nullptr;  // stay on tcp
    GKFS_LOG(kInfo, "shared memory to daemon " + d.uri + " unavailable; using tcp");
  }
}

void ClientTransport::CloseEndpoint(Daemon& d) {
  for (ucp_ep_h* ep : {&d.shm_ep, &d.ep}) {
    if (*ep == nullptr) continue;
    ucp_request_param_t p{};
    p.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
    p.flags = UCP_EP_CLOSE_FLAG_FORCE;
    void* req = ucp_ep_close_nbx(*ep, &p);
    *ep = nullptr;
    if (UCS_PTR_IS_PTR(req)) {
      for (int i = 0; i < 100000 && ucp_request_check_status(req) == UCS_INPROGRESS; ++i) {
        ucp_worker_progress(worker_->handle());
      }
      ucp_request_free(req);
    }
  }
  d.introduced = false;
}

void ClientTransport::OnEndpointError(void* arg, ucp_ep_h ep, ucs_status_t status) {
  auto* d = static_cast<Daemon*>(arg);
  d->failed = true;
  uint32_t index = static_cast<uint32_t>(d - d->owner->daemons_.data());
  d->owner->FailDaemon(index, Status::Error(EHOSTDOWN, "daemon " + d->uri + " unreachable: " +
                                                           ucs_status_string(status)));
}

void ClientTransport::FailDaemon(uint32_t daemon, const Status& status) {
  std::vector<Call*> failed;
  for (auto& [id, call] : pending_) {
    if (call->daemon == daemon) failed.push_back(call);
  }
  for (Call* call : failed) Finish(call, status);
}

void ClientTransport::Finish(Call* call, Status status) {
  if (call->done) return;
  call->done = true;
  call->status = std::move(status);
  pending_.erase(call->id);
}

void ClientTransport::OnSent(void* request, ucs_status_t status, void* user_data) {
  auto* call = static_cast<Call*>(user_data);
  call->send_request = nullptr;
  ucp_request_free(request);
}

void ClientTransport::Send(Call* call) {
  call->done = false;
  call->status = Status::OK();
  call->payload_received = 0;
  if (call->daemon >= daemons_.size()) {
    call->done = true;
    call->status = Status::Error(EINVAL, "no such daemon index");
    return;
  }
  Daemon& d = daemons_[call->daemon];
  if (d.failed) CloseEndpoint(d);
  if (d.ep == nullptr) {
    Status s = Connect(d);
    if (!s.ok()) {
      call->done = true;
      call->status = s;
      return;
    }
  }
  call->id = next_id_++;
  rpc::RequestHeader h;
  h.verb = static_cast<uint16_t>(call->verb);
  h.request_id = call->id;
  h.body_length = static_cast<uint32_t>(call->body.size());
  h.app_id = options_.app_id;
  std::memcpy(h.secret, options_.secret.data(), options_.secret.size());
  std::memcpy(call->header, &h, sizeof(h));
  call->iov.clear();
  call->iov.push_back({call->body.data(), call->body.size()});
  for (const auto& seg : call->payload) {
    if (seg.length > 0) call->iov.push_back({seg.data, seg.length});
  }
  pending_[call->id] = call;

  ucp_request_param_t p{};
  p.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA |
                   UCP_OP_ATTR_FIELD_DATATYPE | UCP_OP_ATTR_FIELD_FLAGS;
  p.cb.send = &ClientTransport::OnSent;
  p.user_data = call;
  p.datatype = ucp_dt_make_iov();
  p.flags = UCP_AM_SEND_FLAG_REPLY;
  void* req = ucp_am_send_nbx(d.shm_ep != nullptr ? d.shm_ep : d.ep, rpc::kRequestAmId, call->header, sizeof(call->header),
                              call->iov.data(), call->iov.size(), &p);
  if (UCS_PTR_IS_ERR(req)) {
    Finish(call, Status::Error(EHOSTDOWN, "sending to daemon " + d.uri + " failed: " +
                                              ucs_status_string(UCS_PTR_STATUS(req))));
  } else {
    call->send_request = req;  // nullptr when it completed at once
  }
}

ucs_status_t ClientTransport::OnReply(void* arg, const void* header, size_t header_length,
                                      void* data, size_t length, const ucp_am_recv_param_t* param) {
  auto* self = static_cast<ClientTransport*>(arg);
  rpc::ReplyHeader h;
  if (header_length < sizeof(h)) return UCS_OK;
  std::memcpy(&h, header, sizeof(h));
  auto it = self->pending_.find(h.request_id);
  if (h.magic != rpc::kMagic || it == self->pending_.end() ||
      header_length != sizeof(h) + h.body_length) {
    return UCS_OK;  // stale (timed out) or garbage: drop
  }
  Call* call = it->second;
  if (h.status != 0) {
    self->Finish(call, Status::Error(h.status, std::string(rpc::VerbName(call->verb)) + " failed on daemon"));
    return UCS_OK;
  }
  call->reply_body.assign(static_cast<const char*>(header) + sizeof(h), h.body_length);
  if (length == 0) {
    self->Finish(call, Status::OK());
    return UCS_OK;
  }
  if (call->prepare_sink) call->prepare_sink(*call);
  size_t capacity = 0;
  for (const auto& seg : call->sink) capacity += seg.length;
  if (call->sink.empty()) {
    call->payload_in.resize(length);
    call->sink.push_back({call->payload_in.data(), length});
    capacity = length;
  }
  if (length > capacity) {
    self->Finish(call, Status::Error(EBADMSG, "reply payload larger than expected"));
    return UCS_OK;
  }
  call->payload_received = length;
  if (!(param->recv_attr & UCP_AM_RECV_ATTR_FLAG_RNDV)) {
    const char* src = static_cast<const char*>(data);
    for (const auto& seg : call->sink) {
      size_t n = std::min(seg.length, length);
      std::memcpy(seg.data, src, n);
      src += n;
      length -= n;
      if (length == 0) break;
    }
    self->Finish(call, Status::OK());
    return UCS_OK;
  }
  // Rendezvous: receive straight into the caller's segments (trimmed to length). The call
  // leaves the pending table now; OnReplyData completes it.
  self->pending_.erase(call->id);
  call->iov.clear();
  size_t left = length;
  for (const auto& seg : call->sink) {
    size_t n = std::min(seg.length, left);
    if (n > 0) call->iov.push_back({seg.data, n});
    left -= n;
  }
  ucp_request_param_t p{};
  p.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA | UCP_OP_ATTR_FIELD_DATATYPE;
  p.cb.recv_am = &ClientTransport::OnReplyData;
  p.user_data = call;
  p.datatype = ucp_dt_make_iov();
  void* req = ucp_am_recv_data_nbx(self->worker_->handle(), data, call->iov.data(), call->iov.size(), &p);
  if (req == nullptr) {
    call->done = true;
  } else if (UCS_PTR_IS_ERR(req)) {
    call->done = true;
    call->status = Status::Error(EIO, std::string("receiving reply data failed: ") +
                                          ucs_status_string(UCS_PTR_STATUS(req)));
  } else {
    call->recv_request = req;
  }
  return UCS_OK;
}

void ClientTransport::OnReplyData(void* request, ucs_status_t status, size_t length, void* user_data) {
  auto* call = static_cast<Call*>(user_data);
  call->recv_request = nullptr;
  ucp_request_free(request);
  if (call->done) return;  // the owner gave up on it (timeout)
  call->done = true;
  call->status = status == UCS_OK ? Status::OK()
                                  : Status::Error(EIO, std::string("reply data: ") + ucs_status_string(status));
}

void ClientTransport::Run(const std::vector<Call*>& calls) {
  for (Call* call : calls) Send(call);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.timeout_ms);
  auto all_done = [&] {
    for (Call* c : calls) {
      if (!c->done || c->send_request != nullptr || c->recv_request != nullptr) return false;
    }
    return true;
  };
  // Spin briefly before blocking: a reply on loopback or shared memory usually arrives
  // within microseconds, and arming plus epoll costs more than that. Bounded, so a slow
  // daemon does not cost the 2-core machines a spinning core.
  auto spin_until = std::chrono::steady_clock::now() + std::chrono::microseconds(kSpinMicros);
  // The deadline is an idle timeout: it moves on whenever the network makes progress, so
  // a long transfer on a slow link lives while a silent peer is detected in timeout_ms.
  while (!all_done()) {
    if (worker_->Progress()) {
      deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.timeout_ms);
      continue;
    }
    auto now = std::chrono::steady_clock::now();
    if (now < spin_until) continue;
    if (now >= deadline) break;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
    worker_->WaitForEvents(static_cast<int>(std::min<long>(left + 1, 100)));
  }
  if (all_done()) return;
  // Idle past the deadline: fail what is left and tear down those endpoints, so no UCX request
  // still points into the callers' buffers when we return.
  for (Call* c : calls) {
    if (c->done && c->send_request == nullptr && c->recv_request == nullptr) continue;
    Daemon& d = daemons_[c->daemon];
    Finish(c, Status::Error(EHOSTDOWN, "daemon " + d.uri + " did not answer within " +
                                           std::to_string(options_.timeout_ms) + " ms"));
    if (c->recv_request != nullptr) ucp_request_cancel(worker_->handle(), c->recv_request);
    CloseEndpoint(d);
  }
  for (int i = 0; i < 1000; ++i) {
    bool busy = false;
    for (Call* c : calls) busy |= c->send_request != nullptr || c->recv_request != nullptr;
    if (!busy) break;
    worker_->Progress();
  }
}

}  // namespace gkfs::transport
