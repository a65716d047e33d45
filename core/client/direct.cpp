#include "client/direct.h"

#include <cstring>

#include "daemon/forwarding/forwarding.h"

namespace gkfs {

DirectPfs::DirectPfs() = default;
DirectPfs::~DirectPfs() = default;

Status DirectPfs::Ready(const std::string& pfs_dir) {
  std::lock_guard<std::mutex> l(mu_);
  if (provider_ != nullptr || !broken_.ok()) return broken_;
  if (pfs_dir.empty()) {
    broken_ = Status::Error(EIO, "this host is mapped direct, but the I/O nodes name no PFS directory");
    return broken_;
  }
  Status s = ForwardingProvider::CreateDirect(pfs_dir, &provider_);
  if (!s.ok()) {
    broken_ = Status::Error(EIO, "direct PFS access: " + s.message());
    return broken_;
  }
  providers_.metadata = provider_->metadata();
  providers_.sync = provider_->sync();
  providers_.forwarding = provider_.get();
  providers_.storage_dir = pfs_dir;
  return Status::OK();
}

void DirectPfs::Run(const std::string& pfs_dir, transport::Call* call) {
  call->done = true;
  call->status = Ready(pfs_dir);
  if (!call->status.ok()) return;
  // The request as the transport would deliver it: body, then the payload in one buffer.
  size_t payload = 0;
  for (const auto& seg : call->payload) payload += seg.length;
  Buffer data(call->body.size() + payload);
  if (!call->body.empty()) memcpy(data.data(), call->body.data(), call->body.size());
  size_t at = call->body.size();
  for (const auto& seg : call->payload) {
    if (seg.length > 0) memcpy(data.data() + at, seg.data, seg.length);
    at += seg.length;
  }
  Request req;
  req.verb = call->verb;
  req.body = std::string_view(data.data(), call->body.size());
  req.payload = std::string_view(data.data() + call->body.size(), payload);
  req.data = &data;
  Response out;
  HandleRequest(providers_, req, &out);  // every handler answers at once here (no queue)
  if (out.status != 0) {
    call->status = Status::Error(out.status, out.message);
    return;
  }
  call->reply_body = std::move(out.body);
  if (call->prepare_sink) call->prepare_sink(*call);
  const char* bytes = out.payload.data();
  size_t left = out.payload_size;
  size_t capacity = 0;
  for (const auto& seg : call->sink) capacity += seg.length;
  if (!call->sink.empty() && left > capacity) {
    call->status = Status::Error(EBADMSG, "reply payload larger than expected");
    return;
  }
  if (call->sink.empty()) {
    call->payload_in.assign(bytes, left);
  } else {
    for (const auto& seg : call->sink) {
      size_t n = std::min(seg.length, left);
      if (n > 0) memcpy(seg.data, bytes, n);
      bytes += n;
      left -= n;
    }
  }
  call->payload_received = out.payload_size - left;
}

}  // namespace gkfs
