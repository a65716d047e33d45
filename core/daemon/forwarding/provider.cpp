// The forwarding provider: the PFS namespace, its sync and the scheduled I/O queue behind
// the daemon's handlers.
#include <sys/stat.h>

#include <atomic>

#include "common/placement.h"
#include "daemon/forwarding/forwarding.h"
#include "daemon/forwarding/io_queue.h"
#include "daemon/forwarding/pfs_namespace.h"

namespace gkfs {
namespace {

// The PFS file itself (its writes completed before their replies), or the whole PFS
// directory's file system. Runs on the network thread, like the other operations that are
// not reads or writes: a slow PFS fsync delays this I/O node's other requests.
class PfsSync : public SyncBackend {
 public:
  PfsSync(SyncMode mode, PfsStore* store) : mode_(mode), store_(*store) {}
  Status Sync(const Work& work, uint64_t* epoch, bool* done) override {
    syncs_.fetch_add(1, std::memory_order_relaxed);
    *epoch = work.epoch;
    *done = true;
    if (mode_ != SyncMode::kFull) return Status::OK();
    if (work.everything) return store_.SyncAll();
    if (work.chunks || work.metadata) return store_.Sync(work.path, work.datasync);
    return Status::OK();
  }
  uint64_t syncs() const override { return syncs_.load(std::memory_order_relaxed); }

 private:
  const SyncMode mode_;
  PfsStore& store_;
  std::atomic<uint64_t> syncs_{0};
};

class ForwardingProviderImpl : public ForwardingProvider {
 public:
  ForwardingProviderImpl(const DaemonOptions& options, transport::Server* server)
      : store_(options.pfs_dir),
        namespace_(&store_),
        sync_(options.sync_mode, &store_),
        queue_(options.scheduler ? options.scheduler : NewFifoScheduler(16), &store_, server,
               options.io_threads) {}

  MetadataBackend* metadata() override { return &namespace_; }
  SyncBackend* sync() override { return &sync_; }

  void Write(const rpc::FwdWriteRequest& in, const Request& req, Response* out) override {
    if (in.append) {  // the kernel orders appends; they bypass the scheduler
      rpc::OffsetReply r;
      Status s = store_.Append(in.path, req.payload.data(), req.payload.size(), &r.offset);
      if (!s.ok()) return Fail(s, out);
      out->body = rpc::EncodeBody(r);
      return;
    }
    PendingIo io = Pending(req, in.path, 1, in.offset, req.payload.size());
    io.payload = req.payload.data();
    io.request_data = std::move(*req.data);  // keeps the payload alive while queued
    queue_.Submit(std::move(io));
    out->deferred = true;
  }

  void Read(const rpc::FwdReadRequest& in, const Request& req, Response* out) override {
    queue_.Submit(Pending(req, in.path, 0, in.offset, in.length));
    out->deferred = true;
  }

  void Statistics(rpc::FwdStatsReply* totals, std::vector<rpc::AppStats>* apps) override {
    queue_.Stats(totals, apps);
  }

 private:
  PendingIo Pending(const Request& req, const std::string& path, uint8_t kind, uint64_t offset,
                    uint64_t length) {
    PendingIo io;
    io.path = path;
    io.token = req.token;
    io.info.app_id = req.app_id;
    io.info.queue_id = HashPath(path);
    io.info.target = store_.Target(path, offset);  // schedulers fold it modulo their targets
    io.info.kind = kind;
    io.info.offset = offset;
    io.info.length = length;
    return io;
  }

  PfsStore store_;
  PfsNamespace namespace_;
  PfsSync sync_;
  IoQueue queue_;  // after store_: its threads use the store
};

}  // namespace

Status ForwardingProvider::Create(const DaemonOptions& options, transport::Server* server,
                                  std::unique_ptr<ForwardingProvider>* out) {
  struct stat st;
  if (options.pfs_dir.empty()) return Status::Error(EINVAL, "--pfs-dir is required with --enable-forwarding");
  if (stat(options.pfs_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status::Error(ENOTDIR, "--pfs-dir '" + options.pfs_dir + "' is not a directory");
  }
  *out = std::make_unique<ForwardingProviderImpl>(options, server);
  return Status::OK();
}

}  // namespace gkfs
