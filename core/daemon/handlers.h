// RPC handlers of the daemon: one function per verb, each a straight line (decode,
// validate, call the provider, fill the response). The table in handlers.cpp maps every
// verb of rpc/schema.h to its handler; a verb without one fails to compile. It is the one
// table of both modes: in forwarding mode the providers behind it are the forwarding
// provider's (the PFS namespace, its sync, the scheduled I/O queue), so every verb is
// decoded, validated and answered the same way.
#pragma once

#include <algorithm>
#include <memory>
#include <utility>
#include <string>

#include "daemon/data_provider.h"
#include "daemon/metrics.h"
#include "daemon/metadata_provider.h"
#include "daemon/sync_provider.h"
#include "daemon/worker_pool.h"
#include "transport/server.h"

namespace gkfs {

class ForwardingProvider;

// What handlers may use. Owned by the daemon; shared by reference.
struct Providers {
  MetadataBackend* metadata;
  DataProvider* data;                     // chunk store; null in forwarding mode
  SyncBackend* sync;
  uint64_t chunk_size;
  std::string mountdir;
  std::string rootdir;
  std::string storage_dir;                // whose file system Health reports: rootdir, or the PFS directory
  ForwardingProvider* forwarding = nullptr;  // whole-file I/O by path; forwarding mode only
  bool auto_sm;
  std::string host_id;
  std::string worker_address;    // set once the server exists
  transport::Server* server = nullptr;  // for deferred replies
  WorkerPool* io = nullptr;             // large chunk transfers run here; null: inline
  const DaemonMetrics* metrics = nullptr;  // what the Metrics verb replies
};

using transport::Request;
using transport::Response;

#define GKFS_DECLARE_HANDLER(name) \
  void Handle##name(Providers& p, const Request& req, Response* out);
GKFS_RPC_VERBS(GKFS_DECLARE_HANDLER)
#undef GKFS_DECLARE_HANDLER

// Routes a request to its handler.
void HandleRequest(Providers& p, const Request& req, Response* out);

// Helpers for handlers.
inline void Fail(const Status& s, Response* out) {
  out->status = s.code();
  out->message = s.message();
}
// Decodes the request body into T; on failure fills out with EBADMSG and returns false.
template <class T>
bool DecodeRequest(const Request& req, T* value, Response* out) {
  Status s = rpc::DecodeBody(req.body, value, rpc::VerbName(req.verb));
  if (!s.ok()) Fail(s, out);
  return s.ok();
}
// Chunk transfers of at least this many bytes run on the I/O threads; smaller ones inline,
// where handing them over would cost more than the copy.
constexpr uint64_t kOffloadBytes = 128 * 1024;

// Runs work(&response) on an I/O thread and replies from there, if the daemon has I/O
// threads and the transfer is large (bytes >= kOffloadBytes); otherwise returns false (the
// caller runs it inline, and work is left as it was: a caller may pass it moved). The
// request's buffer (which req.payload views) moves along.
template <class Work>
bool Offload(Providers& p, const Request& req, uint64_t bytes, Response* out, Work&& work) {
  if (p.io == nullptr || p.server == nullptr || bytes < kOffloadBytes) return false;
  out->deferred = true;
  auto data = std::make_shared<Buffer>(std::move(*req.data));
  p.io->Submit([server = p.server, token = req.token, data, work = std::forward<Work>(work)] {
    Response r;
    work(&r);
    server->Complete(token, std::move(r));
  });
  return true;
}

// Sends bytes as the reply payload.
inline void SetPayload(const std::string& bytes, Response* out) {
  out->payload = Buffer(bytes.size());
  std::copy(bytes.begin(), bytes.end(), out->payload.data());
  out->payload_size = bytes.size();
}

}  // namespace gkfs
