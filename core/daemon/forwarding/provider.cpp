// The forwarding provider's handlers: each a straight line over PfsStore or the IoQueue.
#include <sys/stat.h>

#include <atomic>

#include "common/metadata_codec.h"
#include "common/placement.h"
#include "daemon/forwarding/forwarding.h"
#include "daemon/forwarding/io_queue.h"

namespace gkfs {
namespace {

void ReplyRecord(const Status& s, const Metadata& md, Response* out) {
  if (!s.ok()) return Fail(s, out);
  rpc::RecordReply r;
  r.record = EncodeMetadata(md);
  out->body = rpc::EncodeBody(r);
}

class ForwardingProviderImpl : public ForwardingProvider {
 public:
  ForwardingProviderImpl(const DaemonOptions& options, transport::Server* server)
      : sync_mode_(options.sync_mode),
        store_(options.pfs_dir),
        queue_(options.scheduler ? options.scheduler : NewFifoScheduler(16), &store_, server,
               options.io_threads) {}

  void Handle(Providers& common, const Request& req, Response* out) override {
    switch (req.verb) {
      case rpc::Verb::kFsConfig: return HandleFsConfig(common, req, out);
      case rpc::Verb::kPing: return HandlePing(common, req, out);
      case rpc::Verb::kHealth: return Health(out);
      case rpc::Verb::kCreate: return Create(req, out);
      case rpc::Verb::kStat: return Stat(req, out);
      case rpc::Verb::kTouchDir: return TouchDir(req, out);
      case rpc::Verb::kUntouchDir: return;  // TouchDir touches nothing here
      case rpc::Verb::kRemove: return Remove(req, out);
      case rpc::Verb::kSetSize: return Truncate(req, out);
      case rpc::Verb::kSetAttr: return SetAttr(req, out);
      case rpc::Verb::kReadDir: return ReadDir(req, out);
      case rpc::Verb::kFwdRename: return Rename(req, out);
      case rpc::Verb::kFwdWrite: return Write(req, out);
      case rpc::Verb::kFwdRead: return Read(req, out);
      case rpc::Verb::kFwdStats: return Stats(out);
      case rpc::Verb::kMetrics: return HandleMetrics(common, req, out);
      case rpc::Verb::kSync: return Sync(req, out);
      default:
        Fail(Status::Error(EOPNOTSUPP, std::string(rpc::VerbName(req.verb)) +
                                           " is not served by a daemon in forwarding mode"), out);
    }
  }

  void Statistics(rpc::FwdStatsReply* totals, std::vector<rpc::AppStats>* apps) override {
    queue_.Stats(totals, apps);
  }

 private:
  void Health(Response* out) {
    rpc::HealthReply r;
    r.version = GKFS_VERSION;
    store_.FsStat(&r.total_bytes, &r.free_bytes);
    r.syncs = syncs_.load(std::memory_order_relaxed);
    out->body = rpc::EncodeBody(r);
  }
  // The PFS file itself (its writes completed before their replies), or the whole PFS
  // directory's file system. Runs here, on the network thread, like the other operations
  // that are not reads or writes: a slow PFS fsync delays this I/O node's other requests.
  void Sync(const Request& req, Response* out) {
    rpc::SyncRequest in;
    if (!DecodeRequest(req, &in, out)) return;
    syncs_.fetch_add(1, std::memory_order_relaxed);
    Status s;
    if (sync_mode_ == SyncMode::kFull) {
      if (in.flags & rpc::kSyncEverything) {
        s = store_.SyncAll();
      } else if (in.flags & (rpc::kSyncChunks | rpc::kSyncMetadata)) {
        s = store_.Sync(in.path, (in.flags & rpc::kSyncDataOnly) != 0);
      }
    }
    if (!s.ok()) return Fail(s, out);
    rpc::SyncReply r;
    r.done = 1;
    out->body = rpc::EncodeBody(r);
  }
  void Create(const Request& req, Response* out) {
    rpc::CreateRequest in;
    if (!DecodeRequest(req, &in, out)) return;
    Metadata md;
    bool created = false;
    Status s = store_.Create(in, &md, &created);
    if (!s.ok()) return Fail(s, out);
    rpc::CreateReply r;
    r.record = EncodeMetadata(md);
    r.created = created;
    out->body = rpc::EncodeBody(r);
  }
  // The PFS keeps its directories' times itself: the record, nothing touched.
  void TouchDir(const Request& req, Response* out) {
    rpc::TouchDirRequest in;
    if (!DecodeRequest(req, &in, out)) return;
    Metadata md;
    Status s = store_.Stat(in.target.path, &md);
    if (!s.ok()) return Fail(s, out);
    rpc::TouchDirReply r;
    r.record = EncodeMetadata(md);
    out->body = rpc::EncodeBody(r);
  }
  void Stat(const Request& req, Response* out) {
    rpc::TargetRequest in;
    if (!DecodeRequest(req, &in, out)) return;
    Metadata md;
    ReplyRecord(store_.Stat(in.target.path, &md), md, out);
  }
  void Remove(const Request& req, Response* out) {
    rpc::RemoveRequest in;
    if (!DecodeRequest(req, &in, out)) return;
    Metadata md;
    Status s = store_.Remove(in.path, in.kind, &md);
    if (!s.ok()) return Fail(s, out);
    rpc::RemoveReply r;
    r.record = EncodeMetadata(md);
    out->body = rpc::EncodeBody(r);
  }
  void Truncate(const Request& req, Response* out) {
    rpc::SizeRequest in;
    if (!DecodeRequest(req, &in, out)) return;
    Status s = store_.Truncate(in.target.path, in.size);
    if (s.ok()) out->body = rpc::EncodeBody(rpc::TargetReply{});
    else Fail(s, out);
  }
  void SetAttr(const Request& req, Response* out) {
    rpc::SetAttrRequest in;
    if (!DecodeRequest(req, &in, out)) return;
    Status s = store_.SetAttr(in);
    if (s.ok()) out->body = rpc::EncodeBody(rpc::TargetReply{});
    else Fail(s, out);
  }
  void Rename(const Request& req, Response* out) {
    rpc::RenameRequest in;
    if (!DecodeRequest(req, &in, out)) return;
    Status s = store_.Rename(in.old_path, in.new_path);
    if (!s.ok()) Fail(s, out);
  }
  void ReadDir(const Request& req, Response* out) {
    rpc::ReadDirRequest in;
    if (!DecodeRequest(req, &in, out)) return;
    std::vector<rpc::DirEntryWire> entries;
    bool end = true;
    Status s = store_.ReadDir(in.path, in.start_after, in.max_entries, &entries, &end);
    if (!s.ok()) return Fail(s, out);
    rpc::ReadDirReply r;
    r.end = end;
    out->body = rpc::EncodeBody(r);
    SetPayload(rpc::EncodeDirEntries(entries), out);
  }
  void Write(const Request& req, Response* out) {
    rpc::FwdWriteRequest in;
    if (!DecodeRequest(req, &in, out)) return;
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
  void Read(const Request& req, Response* out) {
    rpc::FwdReadRequest in;
    if (!DecodeRequest(req, &in, out)) return;
    queue_.Submit(Pending(req, in.path, 0, in.offset, in.length));
    out->deferred = true;
  }
  void Stats(Response* out) {
    rpc::FwdStatsReply r;
    std::vector<rpc::AppStats> apps;
    queue_.Stats(&r, &apps);
    out->body = rpc::EncodeBody(r);
    SetPayload(rpc::EncodeAppStats(apps), out);
  }
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

  const SyncMode sync_mode_;
  std::atomic<uint64_t> syncs_{0};
  PfsStore store_;
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
