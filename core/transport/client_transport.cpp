#include "transport/client_transport.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <sched.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "common/log.h"
#include "rpc/repeatable.h"

namespace gkfs::transport {

constexpr int kSpinMicros = 50;

namespace {

// Appends [data, data+length) to iov, extending the last entry when the region follows it
// in memory (the pieces of one caller buffer), so that one region stays one entry.
void AppendSegment(std::vector<ucp_dt_iov_t>* iov, void* data, size_t length) {
  if (length == 0) return;
  if (!iov->empty() && static_cast<char*>(iov->back().buffer) + iov->back().length == data) {
    iov->back().length += length;
    return;
  }
  iov->push_back({data, length});
}

// The datatype for iov: contiguous bytes for zero or one region (UCX moves those with
// zero-copy rendezvous), an IOV otherwise. Sets the buffer and count arguments to match.
void SetDatatype(const std::vector<ucp_dt_iov_t>& iov, ucp_request_param_t* p,
                 const void** buffer, size_t* count) {
  if (iov.size() <= 1) {
    p->datatype = ucp_dt_make_contig(1);
    *buffer = iov.empty() ? nullptr : iov[0].buffer;
    *count = iov.empty() ? 0 : iov[0].length;
  } else {
    p->datatype = ucp_dt_make_iov();
    *buffer = iov.data();
    *count = iov.size();
  }
}

}  // namespace

Status ClientTransport::Create(const std::vector<std::string>& uris, const Options& options,
                               std::unique_ptr<ClientTransport>* out) {
  std::unique_ptr<ClientTransport> t(new ClientTransport());
  t->options_ = options;
  t->uris_ = uris;
  t->daemons_.resize(uris.size());
  t->liveness_ = options.liveness != nullptr
                     ? options.liveness
                     : std::make_shared<Liveness>(uris.size(), std::chrono::milliseconds(options.down_recheck_ms));
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
  Status s = Worker::Create(protocol, all_loopback ? "lo" : "", options.with_shm, &t->net_);
  if (!s.ok()) return s;
  t->net_rx_ = {t.get(), t->net_.get()};
  if (!(s = t->net_->SetAmHandler(rpc::kReplyAmId, &ClientTransport::OnReply, &t->net_rx_)).ok()) return s;
  t->SetUpPolling();
  *out = std::move(t);
  return Status::OK();
}

void ClientTransport::SetUpPolling() {
  poller_ = std::make_unique<Poller>(net_.get(), local_.get());
  max_header_ = SIZE_MAX;
  for (Worker* w : {net_.get(), local_.get()}) {
    if (w == nullptr) continue;
    ucp_worker_attr_t attr{};
    attr.field_mask = UCP_WORKER_ATTR_FIELD_MAX_AM_HEADER;
    if (ucp_worker_query(w->handle(), &attr) == UCS_OK) max_header_ = std::min<size_t>(max_header_, attr.max_am_header);
  }
  if (max_header_ == SIZE_MAX) max_header_ = 0;  // unknown: bodies go in the data
}

Status ClientTransport::MakeLocalWorker() {
  std::unique_ptr<Worker> local;
  Status s = Worker::CreateLocal(&local);
  if (!s.ok()) return s;
  local_rx_ = {this, local.get()};
  if (!(s = local->SetAmHandler(rpc::kReplyAmId, &ClientTransport::OnReply, &local_rx_)).ok()) return s;
  local_ = std::move(local);
  SetUpPolling();  // nothing is in flight between two Run()s
  return Status::OK();
}

Status ClientTransport::Clone(std::unique_ptr<ClientTransport>* out) const {
  Options options = options_;
  options.liveness = liveness_;
  return Create(uris_, options, out);
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
  ucs_status_t st = ucp_ep_create(net_->handle(), &ep, &d.ep);
  if (st != UCS_OK) {
    d.ep = nullptr;
    return Status::Error(EHOSTDOWN, "cannot connect to daemon " + d.uri + ": " + ucs_status_string(st));
  }
  d.failed = false;
  d.answered = false;
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
  // The shared-memory worker is made when a daemon first offers shared memory, not at
  // start: its descriptors (FIFOs, memfds) would otherwise sit among a program's low
  // numbers in every process on a daemon's host, where shells pick numbers by hand.
  if (local_ == nullptr) {
    Status s = MakeLocalWorker();
    if (!s.ok()) {
      GKFS_LOG(kInfo, "no shared-memory worker (" + s.message() + "); using tcp");
      return;
    }
  }
  ucp_ep_params_t ep{};
  ep.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE;
  ep.address = reinterpret_cast<const ucp_address_t*>(worker_address.data());
  ep.err_mode = UCP_ERR_HANDLING_MODE_NONE;
  d.shm_uid = geteuid();
  if (ucp_ep_create(local_->handle(), &ep, &d.shm_ep) != UCS_OK) {
    d.shm_ep = nullptr;  // stay on tcp
    GKFS_LOG(kInfo, "shared memory to daemon " + d.uri + " unavailable; using tcp");
  } else {
    GKFS_LOG(kDebug, "daemon " + d.uri + ": calls go over shared memory");
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
        poller_->Drain();
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
  for (Call* call : pending_) {
    if (call->daemon == daemon) failed.push_back(call);
  }
  // The resend rule (header): once, after a working endpoint failed, for verbs safe to
  // repeat. Resent by Settle(), not here: UCX is inside a callback.
  bool worked = daemons_[daemon].answered;
  for (Call* call : failed) {
    if (worked && call->sends == 1 && rpc::SafeToRepeat(call->verb)) {
      call->resend = true;
      ErasePending(call->id);
      attention_ = true;
    } else {
      Finish(call, status);
    }
  }
}

void ClientTransport::Finish(Call* call, Status status) {
  if (call->done) return;
  call->done = true;
  call->status = std::move(status);
  ErasePending(call->id);
  if (call == &daemons_[call->daemon].recheck) attention_ = true;
}

Call* ClientTransport::FindPending(uint64_t id) const {
  for (Call* call : pending_) {
    if (call->id == id) return call;
  }
  return nullptr;
}

void ClientTransport::ErasePending(uint64_t id) {
  for (size_t i = 0; i < pending_.size(); ++i) {
    if (pending_[i]->id != id) continue;
    pending_[i] = pending_.back();
    pending_.pop_back();
    return;
  }
}

void ClientTransport::OnSent(void* request, ucs_status_t status, void* user_data) {
  auto* call = static_cast<Call*>(user_data);
  call->send_request = nullptr;
  ucp_request_free(request);
}

void ClientTransport::Start(Call* call, Clock::time_point now) {
  call->done = false;
  call->status = Status::OK();
  call->sends = 0;
  call->resend = false;
  if (call->daemon >= daemons_.size()) {
    call->done = true;
    call->status = Status::Error(EINVAL, "no such daemon index");
    return;
  }
  switch (liveness_->Check(call->daemon, now)) {
    case Liveness::Verdict::kUp:
      Send(call);
      return;
    case Liveness::Verdict::kDown:
      call->done = true;
      call->status = liveness_->DownStatus(call->daemon, now);
      return;
    case Liveness::Verdict::kRecheck:  // held (not done, never sent) until it is settled
      StartRecheck(call->daemon, now);
      return;
  }
}

void ClientTransport::StartRecheck(uint32_t daemon, Clock::time_point now) {
  Daemon& d = daemons_[daemon];
  if (d.rechecking) return;
  CloseEndpoint(d);  // whatever it had waits on the silent peer
  d.rechecking = true;
  ++rechecks_;
  d.recheck_deadline = now + std::chrono::milliseconds(RecheckTimeoutMs());
  Call& ping = d.recheck;
  ping = Call();
  ping.daemon = daemon;
  ping.verb = rpc::Verb::kPing;
  ping.body = rpc::EncodeBody(rpc::PingRequest());
  Send(&ping);
  attention_ = true;  // it may have failed at once
}

void ClientTransport::FailRecheck(uint32_t daemon, const std::vector<Call*>& calls,
                                  Clock::time_point now) {
  Daemon& d = daemons_[daemon];
  std::string why = "daemon " + d.uri + " did not answer a recheck within " +
                    std::to_string(RecheckTimeoutMs()) + " ms";
  Finish(&d.recheck, Status::Error(EHOSTDOWN, why));
  d.rechecking = false;
  --rechecks_;
  CloseEndpoint(d);
  liveness_->MarkDown(daemon, now, why);
  for (Call* c : calls) {
    if (c->daemon != daemon || c->done || c->sends > 0) continue;
    c->done = true;
    c->status = liveness_->DownStatus(daemon, now);
  }
}

void ClientTransport::Settle(const std::vector<Call*>& calls) {
  attention_ = false;
  for (uint32_t i = 0; rechecks_ > 0 && i < daemons_.size(); ++i) {
    Daemon& d = daemons_[i];
    if (!d.rechecking || !d.recheck.done) continue;
    d.rechecking = false;
    --rechecks_;
    liveness_->MarkUp(i);  // it answered, if only by refusing: no longer silent
    for (Call* c : calls) {
      if (c->daemon == i && !c->done && c->sends == 0) Send(c);
    }
  }
  for (Call* c : calls) {
    if (!c->resend) continue;
    if (c->send_request != nullptr || c->recv_request != nullptr) {
      attention_ = true;  // UCX still owns the old attempt
      continue;
    }
    c->resend = false;
    Send(c);
  }
}

void ClientTransport::Send(Call* call) {
  call->done = false;
  call->status = Status::OK();
  call->payload_received = 0;
  ++call->sends;
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
  // The body rides in the AM header when it fits, so that the data is the payload alone.
  bool body_in_header = !call->body.empty() && sizeof(h) + call->body.size() <= max_header_;
  if (body_in_header) h.flags |= rpc::kBodyInHeader;
  call->header.reserve(sizeof(h) + (body_in_header ? call->body.size() : 0));  // one allocation
  call->header.assign(reinterpret_cast<const char*>(&h), sizeof(h));
  if (body_in_header) call->header += call->body;
  call->iov.clear();
  if (!body_in_header) AppendSegment(&call->iov, call->body.data(), call->body.size());
  for (const auto& seg : call->payload) AppendSegment(&call->iov, seg.data, seg.length);
  pending_.push_back(call);

  ucp_request_param_t p{};
  p.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA |
                   UCP_OP_ATTR_FIELD_DATATYPE | UCP_OP_ATTR_FIELD_FLAGS;
  p.cb.send = &ClientTransport::OnSent;
  p.user_data = call;
  p.flags = UCP_AM_SEND_FLAG_REPLY;
  const void* buffer;
  size_t count;
  SetDatatype(call->iov, &p, &buffer, &count);
  void* req = ucp_am_send_nbx(OverSharedMemory(d, euid_) ? d.shm_ep : d.ep, rpc::kRequestAmId,
                              call->header.data(), call->header.size(), buffer, count, &p);
  if (UCS_PTR_IS_ERR(req)) {
    Finish(call, Status::Error(EHOSTDOWN, "sending to daemon " + d.uri + " failed: " +
                                              ucs_status_string(UCS_PTR_STATUS(req))));
  } else {
    call->send_request = req;  // nullptr when it completed at once
  }
}

ucs_status_t ClientTransport::OnReply(void* arg, const void* header, size_t header_length,
                                      void* data, size_t length, const ucp_am_recv_param_t* param) {
  auto* rx = static_cast<Receiver*>(arg);
  ClientTransport* self = rx->transport;
  rpc::ReplyHeader h;
  if (header_length < sizeof(h)) return UCS_OK;
  std::memcpy(&h, header, sizeof(h));
  Call* call = self->FindPending(h.request_id);
  if (h.magic != rpc::kMagic || call == nullptr || header_length != sizeof(h) + h.body_length) {
    return UCS_OK;  // stale (timed out) or garbage: drop
  }
  self->daemons_[call->daemon].answered = true;
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
  self->ErasePending(call->id);
  call->iov.clear();
  size_t left = length;
  for (const auto& seg : call->sink) {
    size_t n = std::min(seg.length, left);
    AppendSegment(&call->iov, seg.data, n);
    left -= n;
  }
  ucp_request_param_t p{};
  p.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA | UCP_OP_ATTR_FIELD_DATATYPE;
  p.cb.recv_am = &ClientTransport::OnReplyData;
  p.user_data = call;
  const void* buffer;
  size_t count;
  SetDatatype(call->iov, &p, &buffer, &count);
  call->recv_worker = rx->worker->handle();
  void* req = ucp_am_recv_data_nbx(call->recv_worker, data, const_cast<void*>(buffer), count, &p);
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

bool ClientTransport::AllDone(const std::vector<Call*>& calls) const {
  if (rechecks_ > 0) return false;
  for (Call* c : calls) {
    if (!c->done || c->send_request != nullptr || c->recv_request != nullptr) return false;
  }
  return true;
}

void ClientTransport::Run(const std::vector<Call*>& calls) { RunUntil(calls, false); }

void ClientTransport::RunFirst(const std::vector<Call*>& calls) { RunUntil(calls, true); }

void ClientTransport::RunUntil(const std::vector<Call*>& calls, bool first_good) {
  auto now = Clock::now();
  euid_ = geteuid();  // shared memory only with the uid it was set up with (header)
  if (now - last_drain_ >= drain_after_idle_) {  // see "Restarted daemon" in the header
    poller_->Drain();
    last_drain_ = now;
  }
  bool net_busy = false;  // some call goes over the network worker
  for (Call* call : calls) {
    Start(call, now);
    net_busy |= !call->done && !OverSharedMemory(daemons_[call->daemon], euid_);
  }
  // Spin briefly before blocking: a reply on loopback or shared memory usually arrives
  // within microseconds, and arming plus epoll costs more than that. Bounded, so a slow
  // daemon does not cost the 2-core machines a spinning core.
  // The deadline is an idle timeout: it moves on whenever the network makes progress, so
  // a long transfer on a slow link lives while a silent peer is detected in timeout_ms.
  // The clock is read once here and then every kClockStride idle turns (a clock read costs
  // as much as several turns); progress since the last read moves the deadline then.
  // Rechecks have fixed deadlines of their own.
  constexpr unsigned kClockStride = 16;
  constexpr unsigned kYieldStride = 64;
  const auto timeout = std::chrono::milliseconds(options_.timeout_ms);
  const auto spin_until = now + std::chrono::microseconds(kSpinMicros);
  auto deadline = now + timeout;
  bool progressed = false;
  unsigned idle_turns = 0;
  while (true) {
    if (attention_) Settle(calls);
    if (AllDone(calls)) return;
    if (first_good && std::any_of(calls.begin(), calls.end(), [](const Call* c) {
          return c->done && c->status.ok() && c->send_request == nullptr && c->recv_request == nullptr;
        })) {
      DropRest(calls);
      return;
    }
    if (poller_->Turn(net_busy)) {
      progressed = true;
      continue;
    }
    if (++idle_turns % kClockStride != 0) continue;
    now = Clock::now();
    if (progressed) {
      deadline = now + timeout;
      progressed = false;
    }
    auto wake = deadline;
    bool failed_recheck = false;
    for (uint32_t i = 0; rechecks_ > 0 && i < daemons_.size(); ++i) {
      if (!daemons_[i].rechecking) continue;
      if (now >= daemons_[i].recheck_deadline) {
        FailRecheck(i, calls, now);
        failed_recheck = true;
      } else {
        wake = std::min(wake, daemons_[i].recheck_deadline);
      }
    }
    if (failed_recheck) continue;  // its held calls may have been the last ones
    if (now < spin_until) {
      // Give the core away now and then while spinning: on a machine with more runnable
      // processes than cores, the daemon (or another client) may be waiting for it.
      if (idle_turns % kYieldStride == 0) sched_yield();
      continue;
    }
    if (now >= deadline) break;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(wake - now).count();
    poller_->Wait(static_cast<int>(std::min<long>(left + 1, 100)));
  }
  GiveUp(calls, now);
}

void ClientTransport::GiveUp(const std::vector<Call*>& calls, Clock::time_point now) {
  for (uint32_t i = 0; rechecks_ > 0 && i < daemons_.size(); ++i) {
    if (daemons_[i].rechecking) FailRecheck(i, calls, now);
  }
  for (Call* c : calls) {
    if (c->done && c->send_request == nullptr && c->recv_request == nullptr) continue;
    Daemon& d = daemons_[c->daemon];
    std::string why = "daemon " + d.uri + " did not answer within " +
                      std::to_string(options_.timeout_ms) + " ms";
    if (!c->done) liveness_->MarkDown(c->daemon, now, why);  // silent, not just slow to let go
    c->resend = false;
    Finish(c, Status::Error(EHOSTDOWN, why));
    if (c->recv_request != nullptr) ucp_request_cancel(c->recv_worker, c->recv_request);
    CloseEndpoint(d);
  }
  WaitReleased(calls);
}

void ClientTransport::DropRest(const std::vector<Call*>& calls) {
  for (Call* c : calls) {
    if (c->done && c->send_request == nullptr && c->recv_request == nullptr) continue;
    c->resend = false;
    Finish(c, Status::Error(ECANCELED, "another daemon answered first"));
    if (c->send_request == nullptr && c->recv_request == nullptr) continue;
    if (c->recv_request != nullptr) ucp_request_cancel(c->recv_worker, c->recv_request);
    CloseEndpoint(daemons_[c->daemon]);
  }
  WaitReleased(calls);
}

void ClientTransport::WaitReleased(const std::vector<Call*>& calls) {
  for (int i = 0; i < 1000; ++i) {
    bool busy = false;
    for (Call* c : calls) busy |= c->send_request != nullptr || c->recv_request != nullptr;
    if (!busy) break;
    poller_->Drain();
  }
}

}  // namespace gkfs::transport
