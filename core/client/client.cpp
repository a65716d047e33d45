// Connect and the metadata operations of ClientImpl.
#include "client/client_impl.h"
#include "client/forwarding_client.h"

#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>

#include "common/metadata_codec.h"
#include "common/path_util.h"
#include "common/secret.h"

namespace gkfs {

using transport::Call;

int64_t NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

Status Client::Connect(const ClientOptions& options, std::unique_ptr<Client>* out) {
  std::vector<HostEntry> hosts;
  Status s = ReadHostsFile(options.hosts_file, &hosts);
  if (!s.ok()) return s;
  std::vector<std::string> uris;
  for (const auto& h : hosts) uris.push_back(h.uri);
  transport::ClientTransport::Options topts;
  topts.timeout_ms = options.timeout_ms;
  topts.app_id = options.app_id;
  // The instance secret: named explicitly, or beside the hosts file when gkfs-ctl made one.
  Secret& secret = topts.secret;
  std::string secret_file = options.secret_file;
  if (secret_file.empty() && access((options.hosts_file + ".secret").c_str(), F_OK) == 0) {
    secret_file = options.hosts_file + ".secret";
  }
  if (!secret_file.empty() && !(s = ReadSecretFile(secret_file, &secret)).ok()) return s;
  // Shared memory is possible only with a daemon on this host (its --auto-sm decides).
  char me[256] = {0};
  gethostname(me, sizeof(me) - 1);
  for (const auto& h : hosts) topts.with_shm |= h.host == me;
  if (!options.forwarding_map_file.empty() && !GKFS_HAVE_FORWARDING) {
    return Status::Error(ENOTSUP, "a forwarding map is set ('" + options.forwarding_map_file +
                                      "'), but this build of gkfs lacks forwarding (ENABLE_FORWARDING=OFF)");
  }
  std::unique_ptr<transport::ClientTransport> transport;
  s = transport::ClientTransport::Create(uris, topts, &transport);
  if (!s.ok()) return s;
  std::unique_ptr<ClientImpl> client;
  if (options.forwarding_map_file.empty()) {
    client = std::make_unique<ClientImpl>(std::move(hosts), std::move(transport));
  } else {
    // Fail now, naming the file, rather than at the first operation.
    ForwardingMap map(options.forwarding_map_file, options.hostname.empty() ? me : options.hostname,
                      static_cast<uint32_t>(hosts.size()));
    uint32_t first = 0;
    if (!(s = map.IoNode(&first)).ok()) return s;
    client = std::make_unique<ForwardingClient>(std::move(hosts), std::move(transport), std::move(map));
  }
  client->SetCredentials(options.credentials);
  s = client->FetchConfig();
  if (!s.ok()) return s;
  *out = std::move(client);
  return Status::OK();
}

ClientImpl::ClientImpl(std::vector<HostEntry> hosts, std::unique_ptr<transport::ClientTransport> transport)
    : hosts_(std::move(hosts)), placement_(static_cast<uint32_t>(hosts_.size())), transport_(std::move(transport)) {}

Status ClientImpl::FetchConfig() {
  std::lock_guard<std::mutex> l(mu_);
  Status last;
  for (uint32_t i = 0; i < hosts_.size(); ++i) {
    Call call;
    call.daemon = i;
    call.verb = rpc::Verb::kFsConfig;
    last = CallOne(&call);
    if (last.code() == EACCES) {
      return Status::Error(EACCES, "daemon " + hosts_[i].uri + " refused this client: it lacks the file "
                                   "system's secret (<hosts file>.secret or LIBGKFS_SECRET_FILE)");
    }
    if (!last.ok()) continue;
    rpc::FsConfigReply r;
    Status s = rpc::DecodeBody(call.reply_body, &r, "fs_config reply");
    if (!s.ok()) return s;
    if (r.protocol_version != rpc::kProtocolVersion) {
      return Status::Error(EPROTO, "daemon " + hosts_[i].uri + " speaks protocol " +
                                       std::to_string(r.protocol_version) + ", this client " +
                                       std::to_string(rpc::kProtocolVersion));
    }
    config_.chunk_size = r.chunk_size;
    config_.mountdir = r.mountdir;
    config_.rootdir = r.rootdir;
    config_.protocol_version = r.protocol_version;
    config_.num_daemons = static_cast<uint32_t>(hosts_.size());
    config_.auto_sm = r.auto_sm;
    if (r.auto_sm) ApplyIntroduction(i, call);
    return Status::OK();
  }
  return Status::Error(EHOSTDOWN, "no daemon of the file system answered: " + last.message());
}

Status ClientImpl::CallOne(Call* call) {
  RunCalls({call});
  return call->status;
}

void ClientImpl::ApplyIntroduction(uint32_t daemon, const Call& fs_config) {
  rpc::FsConfigReply r;
  bool same_host = fs_config.status.ok() && rpc::DecodeBody(fs_config.reply_body, &r, "fs_config").ok() &&
                   r.auto_sm && r.host_id == transport::HostIdentity();
  transport_->AttachSharedMemory(daemon, same_host ? r.worker_address : "");
}

void ClientImpl::RunCalls(const std::vector<Call*>& calls) {
  if (config_.auto_sm) {
    std::vector<Call> intro;
    intro.reserve(calls.size());
    std::vector<Call*> ptrs;
    for (Call* c : calls) {
      if (!transport_->NeedsIntroduction(c->daemon)) continue;
      bool listed = false;
      for (const Call& i : intro) listed |= i.daemon == c->daemon;
      if (listed) continue;
      intro.emplace_back();
      intro.back().daemon = c->daemon;
      intro.back().verb = rpc::Verb::kFsConfig;
      ptrs.push_back(&intro.back());
    }
    if (!ptrs.empty()) {
      transport_->Run(ptrs);
      for (const Call& i : intro) ApplyIntroduction(i.daemon, i);
    }
  }
  transport_->Run(calls);
}

Call ClientImpl::MetaCall(const std::string& path, rpc::Verb verb, std::string body) {
  Call call;
  call.daemon = MetadataOwner(path);
  call.verb = verb;
  call.body = std::move(body);
  return call;
}

Status DecodeRecord(const Call& call, Metadata* md) {
  if (!call.status.ok()) return call.status;
  rpc::RecordReply r;
  Status s = rpc::DecodeBody(call.reply_body, &r, "record reply");
  return s.ok() ? DecodeMetadata(r.record, md) : s;
}

Status DecodeCreate(const Call& call, Metadata* md, bool* created) {
  if (!call.status.ok()) return call.status;
  rpc::CreateReply r;
  Status s = rpc::DecodeBody(call.reply_body, &r, "create reply");
  if (s.ok()) s = DecodeMetadata(r.record, md);
  if (created != nullptr) *created = s.ok() && r.created;
  return s;
}

rpc::CreateRequest CreateBody(const std::string& path, uint32_t mode, bool exclusive,
                              const std::string& link_target) {
  rpc::CreateRequest req;
  req.path = path;
  req.mode = mode;
  req.uid = geteuid();
  req.gid = getegid();
  req.exclusive = exclusive;
  req.link_target = link_target;
  return req;
}

namespace {
rpc::PathRequest PathBody(const std::string& path) {
  rpc::PathRequest r;
  r.path = path;
  return r;
}
}  // namespace

Status ClientImpl::StatLocked(const std::string& path, Metadata* md) {
  Call call = MetaCall(path, rpc::Verb::kStat, rpc::EncodeBody(PathBody(path)));
  CallOne(&call);
  return DecodeRecord(call, md);
}

Status ClientImpl::Stat(const std::string& path, Metadata* md) {
  std::lock_guard<std::mutex> l(mu_);
  return StatLocked(path, md);
}

// A CreateInDir/RemoveInDir reply as the pair a TouchDir and the operation beside it give:
// *dir the parent's outcome; returns the operation's status, *md its record, *done whether
// it made (removed) the entry.
Status ClientImpl::DecodeInDir(const Call& call, DirTouch* dir, Metadata* md, bool* done) {
  rpc::InDirReply r;
  Status s = call.status;
  if (s.ok()) s = rpc::DecodeBody(call.reply_body, &r, "reply");
  if (!s.ok()) {
    dir->status = s;
    return s;
  }
  if (!r.dir_record.empty() && !(dir->status = DecodeMetadata(r.dir_record, &dir->before)).ok()) {
    return dir->status;
  }
  if (r.dir_status != 0) {
    dir->status = Status::Error(r.dir_status, r.dir_status == ENOTDIR ? "a parent is not a directory"
                                                                      : "no such directory");
    return dir->status;
  }
  dir->touched_ns = r.touched_ns;
  if (r.status != 0) return Status::Error(r.status, std::string(rpc::VerbName(call.verb)) + " failed on daemon");
  s = DecodeMetadata(r.record, md);
  *done = s.ok() && r.done;
  return s;
}

// One round trip: the create and the touch of the parent, whose record answers whether the
// parent exists and what it permits. What a failing or denied call did is undone.
Status ClientImpl::CreateLocked(const std::string& path, uint32_t mode, bool exclusive,
                                const std::string& link_target, Metadata* md, bool* created) {
  if (created != nullptr) *created = false;
  if (path == "/") return Status::Error(EEXIST, "the root directory exists");
  rpc::CreateRequest req = CreateBody(path, mode, exclusive, link_target);
  const std::string parent = ParentPath(path);
  bool made = false;
  Metadata record;
  DirTouch dir;
  Status cs;
  if (OneOwnerWithParent(path, parent)) {
    Call call = MetaCall(path, rpc::Verb::kCreateInDir, rpc::EncodeBody(req));
    CallOne(&call);
    cs = DecodeInDir(call, &dir, &record, &made);
  } else {
    Call create = MetaCall(path, rpc::Verb::kCreate, rpc::EncodeBody(req));
    dir = RunBesideTouch(&create, parent);
    cs = DecodeCreate(create, &record, &made);
  }
  // Linux's order: the parent's lookup and search permission, the entry, write permission.
  Status s = dir.status;
  if (s.ok()) s = CheckSearch(dir.before);
  if (s.ok()) s = cs;
  if (s.ok() && made) s = CheckModify(dir.before, nullptr);
  if (s.ok()) *md = std::move(record);  // *md changes only on success
  if (s.ok() && made) {
    if (created != nullptr) *created = true;
    return s;
  }
  std::vector<Call> undo;
  if (made && s.code() != EHOSTDOWN) {
    rpc::RemoveRequest rm;
    rm.path = path;
    undo.push_back(MetaCall(path, rpc::Verb::kRemove, rpc::EncodeBody(rm)));
  }
  AddUntouch(parent, dir, &undo);
  if (!undo.empty()) RunAll(undo);
  return s;
}

Status ClientImpl::Create(const std::string& path, uint32_t mode, bool exclusive, Metadata* md,
                          bool* created) {
  std::lock_guard<std::mutex> l(mu_);
  return CreateLocked(path, S_IFREG | (mode & 07777), exclusive, "", md, created);
}

Status ClientImpl::Mkdir(const std::string& path, uint32_t mode) {
  std::lock_guard<std::mutex> l(mu_);
  Metadata md;
  return CreateLocked(path, S_IFDIR | (mode & 07777), true, "", &md, nullptr);
}

Status ClientImpl::Symlink(const std::string& path, const std::string& target) {
  if (target.empty()) return Status::Error(ENOENT, "empty symlink target");
  if (target.size() >= PATH_MAX) return Status::Error(ENAMETOOLONG, "symlink target longer than PATH_MAX");
  std::lock_guard<std::mutex> l(mu_);
  Metadata md;
  return CreateLocked(path, S_IFLNK | 0777, true, target, &md, nullptr);
}

std::vector<uint32_t> ClientImpl::ChunkOwners(uint64_t file_id, uint64_t size) const {
  uint64_t chunks = (size + config_.chunk_size - 1) / config_.chunk_size;
  if (chunks >= placement_.num_daemons() * 4ull) return {};  // all of them
  std::vector<uint32_t> owners;
  for (uint64_t i = 0; i < chunks; ++i) owners.push_back(placement_.ChunkOwner(file_id, i));
  std::sort(owners.begin(), owners.end());
  owners.erase(std::unique(owners.begin(), owners.end()), owners.end());
  if (owners.empty()) owners.push_back(placement_.ChunkOwner(file_id, 0));
  return owners;
}

Status ClientImpl::Broadcast(rpc::Verb verb, const std::string& body, const std::vector<uint32_t>& targets) {
  std::vector<Call> calls(targets.empty() ? placement_.num_daemons() : targets.size());
  for (size_t i = 0; i < calls.size(); ++i) {
    calls[i].daemon = targets.empty() ? static_cast<uint32_t>(i) : targets[i];
    calls[i].verb = verb;
    calls[i].body = body;
  }
  return RunAll(calls);
}

Status ClientImpl::ReadDirLocked(const std::string& path, const std::string& start_after,
                                 size_t max_entries, bool check_dir, std::vector<DirEntry>* entries,
                                 bool* end, Call* extra) {
  rpc::ReadDirRequest req;
  req.path = path;
  req.start_after = start_after;
  req.max_entries = static_cast<uint32_t>(std::min<size_t>(std::max<size_t>(max_entries, 1), rpc::kMaxReadDirPage));
  const std::string body = rpc::EncodeBody(req);
  std::vector<Call> calls(placement_.num_daemons());
  std::vector<Call*> ptrs;
  for (uint32_t i = 0; i < calls.size(); ++i) {
    calls[i].daemon = i;
    calls[i].verb = rpc::Verb::kReadDir;
    calls[i].body = body;
    ptrs.push_back(&calls[i]);
  }
  Call stat = MetaCall(path, rpc::Verb::kStat, rpc::EncodeBody(PathBody(path)));
  if (check_dir) ptrs.push_back(&stat);
  if (extra != nullptr) ptrs.push_back(extra);
  RunCalls(ptrs);
  if (check_dir) {
    Metadata md;
    Status s = DecodeRecord(stat, &md);
    if (!s.ok()) return s;
    if (!md.is_dir()) return Status::Error(ENOTDIR, "not a directory");
  }
  std::vector<DirEntry> merged;
  *end = true;
  for (auto& c : calls) {
    if (!c.status.ok()) return c.status;
    rpc::ReadDirReply r;
    std::vector<rpc::DirEntryWire> wire;
    Status s = rpc::DecodeBody(c.reply_body, &r, "readdir reply");
    if (!s.ok() || !rpc::DecodeDirEntries(c.payload_in, &wire)) {
      return Status::Error(EBADMSG, "malformed readdir reply");
    }
    if (!r.end) *end = false;
    for (auto& w : wire) merged.push_back({std::move(w.name), w.type});
  }
  std::sort(merged.begin(), merged.end(), [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
  // A name is listed once even if two daemons hold a record for it (a stale record left on
  // the owner of a placement that changed, e.g. daemons restarted on other ports).
  merged.erase(std::unique(merged.begin(), merged.end(),
                           [](const DirEntry& a, const DirEntry& b) { return a.name == b.name; }),
               merged.end());
  if (merged.size() > req.max_entries) {
    merged.resize(req.max_entries);
    *end = false;
  }
  *entries = std::move(merged);
  return Status::OK();
}

Status ClientImpl::ReadDirPage(const std::string& path, const std::string& start_after,
                               size_t max_entries, std::vector<DirEntry>* entries, bool* end) {
  std::lock_guard<std::mutex> l(mu_);
  return ReadDirLocked(path, start_after, max_entries, start_after.empty(), entries, end);
}

Status ClientImpl::ReadDir(const std::string& path, std::vector<DirEntry>* entries) {
  std::lock_guard<std::mutex> l(mu_);
  entries->clear();
  std::string after;
  bool end = false;
  bool first = true;
  while (!end) {
    std::vector<DirEntry> page;
    Status s = ReadDirLocked(path, after, rpc::kMaxReadDirPage, first, &page, &end);
    if (!s.ok()) return s;
    first = false;
    if (page.empty()) break;
    after = page.back().name;
    for (auto& e : page) entries->push_back(std::move(e));
  }
  return Status::OK();
}

Status ClientImpl::RunAll(std::vector<Call>& calls) {
  constexpr size_t kParallelCalls = 256;
  for (size_t start = 0; start < calls.size(); start += kParallelCalls) {
    std::vector<Call*> group;
    for (size_t i = start; i < std::min(calls.size(), start + kParallelCalls); ++i) group.push_back(&calls[i]);
    RunCalls(group);
  }
  return FirstError(calls);
}

Status FirstError(const std::vector<Call>& calls) {
  for (const auto& c : calls) {
    if (!c.status.ok()) return c.status;
  }
  return Status::OK();
}

Status ClientImpl::SetAttr(const std::string& path, int64_t mode, int64_t atime_ns, int64_t mtime_ns,
                           int64_t uid, int64_t gid) {
  std::lock_guard<std::mutex> l(mu_);
  rpc::SetAttrRequest req;
  req.path = path;
  req.mode = mode;
  req.atime_ns = atime_ns;
  req.mtime_ns = mtime_ns;
  req.uid = uid;
  req.gid = gid;
  Call call = MetaCall(path, rpc::Verb::kSetAttr, rpc::EncodeBody(req));
  return CallOne(&call);
}

Status ClientImpl::Ping(uint32_t daemon, const void* payload, size_t send_bytes, void* reply,
                        size_t reply_bytes) {
  if (daemon >= hosts_.size()) return Status::Error(EINVAL, "no daemon with index " + std::to_string(daemon));
  if (reply_bytes > rpc::kMaxPingReply) return Status::Error(EINVAL, "ping reply larger than 64 MiB");
  std::lock_guard<std::mutex> l(mu_);
  rpc::PingRequest req;
  req.reply_bytes = static_cast<uint32_t>(reply_bytes);
  Call call;
  call.daemon = daemon;
  call.verb = rpc::Verb::kPing;
  call.body = rpc::EncodeBody(req);
  if (send_bytes > 0) call.payload.push_back({const_cast<void*>(payload), send_bytes});
  if (reply_bytes > 0) call.sink.push_back({reply, reply_bytes});
  Status s = CallOne(&call);
  if (s.ok() && call.payload_received != reply_bytes) s = Status::Error(EIO, "short ping reply");
  return s;
}

Status ClientImpl::IoNodeStatistics(uint32_t daemon, IoNodeStats* stats) {
  if (daemon >= hosts_.size()) return Status::Error(EINVAL, "no daemon with index " + std::to_string(daemon));
  std::lock_guard<std::mutex> l(mu_);
  Call call;
  call.daemon = daemon;
  call.verb = rpc::Verb::kFwdStats;
  Status s = CallOne(&call);
  rpc::FwdStatsReply r;
  std::vector<rpc::AppStats> apps;
  if (s.ok()) s = rpc::DecodeBody(call.reply_body, &r, "stats reply");
  if (s.ok() && !rpc::DecodeAppStats(call.payload_in, &apps)) s = Status::Error(EBADMSG, "malformed stats reply");
  if (!s.ok()) return s;
  *stats = IoNodeStats();
  stats->pending = r.pending;
  stats->in_service = r.in_service;
  stats->scheduler_errors = r.scheduler_errors;
  for (const auto& a : apps) {
    stats->apps.push_back({a.app_id, a.requests, a.bytes, a.reads, a.writes, a.units,
                           a.queue_wait_ns / 1e9, a.service_ns / 1e9});
  }
  return Status::OK();
}

Status ClientImpl::Daemons(std::vector<DaemonInfo>* infos) {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<Call> calls(hosts_.size());
  std::vector<Call*> ptrs;
  for (uint32_t i = 0; i < calls.size(); ++i) {
    calls[i].daemon = i;
    calls[i].verb = rpc::Verb::kHealth;
    ptrs.push_back(&calls[i]);
  }
  RunCalls(ptrs);
  infos->clear();
  for (uint32_t i = 0; i < calls.size(); ++i) {
    DaemonInfo info;
    info.host = hosts_[i].host;
    info.uri = hosts_[i].uri;
    rpc::HealthReply r;
    Status s = calls[i].status;
    if (s.ok()) s = rpc::DecodeBody(calls[i].reply_body, &r, "health reply");
    info.up = s.ok();
    info.error = s.ok() ? "" : s.ToString();
    info.version = r.version;
    info.files = r.files;
    info.chunk_bytes = r.chunk_bytes;
    info.total_bytes = r.total_bytes;
    info.free_bytes = r.free_bytes;
    info.syncs = r.syncs;
    infos->push_back(std::move(info));
  }
  return Status::OK();
}

Status ClientImpl::StatFs(FsStats* stats) {
  std::vector<DaemonInfo> infos;
  Status s = Daemons(&infos);
  if (!s.ok()) return s;
  *stats = FsStats();
  for (const auto& info : infos) {
    if (!info.up) return Status::Error(EHOSTDOWN, "daemon " + info.uri + " is down: " + info.error);
    stats->total_bytes += info.total_bytes;
    stats->free_bytes += info.free_bytes;
    stats->files += info.files;
  }
  return Status::OK();
}

}  // namespace gkfs
