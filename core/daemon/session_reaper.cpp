#include "daemon/session_reaper.h"

#include <algorithm>
#include <chrono>

#include "common/log.h"

namespace gkfs {

SessionReaper::SessionReaper(MetadataProvider* metadata, ClientOptions options)
    : metadata_(metadata), options_(std::move(options)), thread_([this] { Loop(); }) {}

SessionReaper::~SessionReaper() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

Status SessionReaper::ReapOnce() {
  std::vector<rpc::ReleaseRequest> expired = metadata_->ExpiredSessions();
  if (expired.empty()) return Status::OK();
  if (client_ == nullptr) {
    Status s = Client::Connect(options_, &client_);
    if (!s.ok()) return s;
  }
  Status first;
  for (const rpc::ReleaseRequest& session : expired) {
    GKFS_LOG(kInfo, "session " + std::to_string(session.opener) + " expired: releasing " +
                        std::to_string(session.inos.size()) + " open files");
    Status s = client_->Release(session.opener, session.inos);
    if (first.ok()) first = s;
  }
  return first;
}

void SessionReaper::Loop() {
  const auto period = std::chrono::milliseconds(std::clamp<int64_t>(metadata_->session_lease_ms() / 4, 20, 5000));
  std::unique_lock<std::mutex> l(mu_);
  while (!wake_.wait_for(l, period, [this] { return stop_; })) {
    l.unlock();
    Status s = ReapOnce();
    if (!s.ok()) GKFS_LOG(kError, "releasing the opens of expired sessions: " + s.ToString());
    l.lock();
  }
}

}  // namespace gkfs
