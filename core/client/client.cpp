// Connect and the metadata operations of ClientImpl.
#include "client/client_impl.h"

#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <tuple>

#include "common/link_walk.h"
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
  if (!options.forwarding_map_file.empty()) {
    // The map's I/O-node index is GekkoFS's daemon order, (host name, uri), not placement's.
    std::sort(hosts.begin(), hosts.end(), [](const HostEntry& a, const HostEntry& b) {
      return std::tie(a.host, a.uri) < std::tie(b.host, b.uri);
    });
  }
  std::vector<std::string> uris;
  for (const auto& h : hosts) uris.push_back(h.uri);
  transport::ClientTransport::Options topts;
  topts.timeout_ms = options.timeout_ms;
  topts.down_recheck_ms = options.down_recheck_ms;
  topts.recheck_timeout_ms = options.recheck_timeout_ms;
  topts.app_id = options.app_id;
  // The instance secret: named explicitly, or beside the hosts file when gkfs-ctl made one.
  Secret& secret = topts.secret;
  std::string secret_file = options.secret_file;
  if (secret_file.empty() && access((options.hosts_file + ".secret").c_str(), F_OK) == 0) {
    secret_file = options.hosts_file + ".secret";
  }
  if (!options.secret.empty()) {
    if (!(s = ParseSecret(options.secret, "the instance secret given", &secret)).ok()) return s;
  } else if (!secret_file.empty() && !(s = ReadSecretFile(secret_file, &secret)).ok()) {
    return s;
  }
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
  std::unique_ptr<Routing> routing;
  if (options.forwarding_map_file.empty()) {
    routing = std::make_unique<HashRouting>(static_cast<uint32_t>(hosts.size()));
  } else {
    // Fail now, naming the file, rather than at the first operation.
    ForwardingMap map(options.forwarding_map_file, options.hostname.empty() ? me : options.hostname,
                      static_cast<uint32_t>(hosts.size()));
    uint32_t first = 0;
    if (!(s = map.IoNode(&first)).ok()) return s;
    routing = std::make_unique<IoNodeRouting>(std::move(map));
  }
  auto client = std::make_unique<ClientImpl>(std::move(hosts), std::move(transport), std::move(routing));
  client->SetCredentials(options.credentials);
  s = client->FetchConfig();
  if (!s.ok()) return s;
  if (options.renew_sessions) client->RenewSessions();
  *out = std::move(client);
  return Status::OK();
}

ClientImpl::ClientImpl(std::vector<HostEntry> hosts, std::unique_ptr<transport::ClientTransport> transport,
                       std::unique_ptr<Routing> routing)
    : hosts_(std::move(hosts)),
      routing_(std::move(routing)),
      transports_(std::move(transport), kMaxTransports) {}

Status ClientImpl::FetchConfig() {
  // Any daemon tells the configuration: ask kConfigFanout at once and take the first good
  // reply, so a frozen or dead daemon among them costs nothing while another answers (a
  // healthy start-up: one round trip, as asking one). The next few only if none of them did.
  constexpr uint32_t kConfigFanout = 3;
  Status last;
  bool refused = false;
  for (uint32_t first = 0; first < hosts_.size(); first += kConfigFanout) {
    std::vector<Call> calls(std::min<size_t>(kConfigFanout, hosts_.size() - first));
    std::vector<Call*> ptrs;
    for (uint32_t k = 0; k < calls.size(); ++k) {
      calls[k].daemon = first + k;
      calls[k].verb = rpc::Verb::kFsConfig;
      ptrs.push_back(&calls[k]);
    }
    auto t = transports_.Acquire();  // the offer applies to the transport that was given it
    t->RunFirst(ptrs);
    const Call* answer = nullptr;
    for (const Call& call : calls) {
      refused |= call.status.code() == EACCES;
      if (!call.status.ok()) {
        if (call.status.code() != ECANCELED) last = call.status;
        continue;
      }
      if (answer == nullptr) answer = &call;
      ApplyIntroduction(*t, call.daemon, call);  // what a first call would ask it anyway
    }
    if (answer != nullptr) return ApplyConfig(*answer);
  }
  if (refused) {
    return Status::Error(EACCES, "the daemons refused this client: it lacks the file system's secret "
                                 "(<hosts file>.secret or LIBGKFS_SECRET_FILE)");
  }
  return Status::Error(EHOSTDOWN, "no daemon of the file system answered: " + last.message());
}

Status ClientImpl::ApplyConfig(const Call& fs_config) {
  rpc::FsConfigReply r;
  Status s = rpc::DecodeBody(fs_config.reply_body, &r, "fs_config reply");
  if (!s.ok()) return s;
  if (r.protocol_version != rpc::kProtocolVersion) {
    return Status::Error(EPROTO, "daemon " + hosts_[fs_config.daemon].uri + " speaks protocol " +
                                     std::to_string(r.protocol_version) + ", this client " +
                                     std::to_string(rpc::kProtocolVersion));
  }
  config_.chunk_size = r.chunk_size;
  config_.mountdir = r.mountdir;
  config_.rootdir = r.rootdir;
  config_.protocol_version = r.protocol_version;
  config_.num_daemons = static_cast<uint32_t>(hosts_.size());
  config_.auto_sm = r.auto_sm;
  config_.device_id = FileSystemDevice(r.mountdir);
  config_.session_lease_ms = r.session_lease_ms;
  config_.pfs_dir = r.pfs_dir;
  return Status::OK();
}

Status ClientImpl::CallOne(Call* call) {
  RunCalls({call});
  return call->status;
}

void ClientImpl::ApplyIntroduction(transport::ClientTransport& t, uint32_t daemon, const Call& fs_config) {
  rpc::FsConfigReply r;
  bool same_host = fs_config.status.ok() && rpc::DecodeBody(fs_config.reply_body, &r, "fs_config").ok() &&
                   r.auto_sm && r.host_id == transport::HostIdentity() && r.uid == geteuid();
  t.AttachSharedMemory(daemon, same_host ? r.worker_address : "");
}

void ClientImpl::RunCalls(const std::vector<Call*>& calls) {
  auto t = transports_.Acquire();
  RunCallsOn(*t, calls);
}

void ClientImpl::RunCallsOn(transport::ClientTransport& t, const std::vector<Call*>& all) {
  // Calls of the direct route run here, in this thread; the rest go out together. A host
  // on an I/O node (or normal mode) pays one comparison per call, no copy.
  bool any_direct = false;
  for (const Call* c : all) any_direct |= c->daemon == Routing::kDirect;
  std::vector<Call*> remote;
  if (any_direct) {
    for (Call* c : all) {
      if (c->daemon == Routing::kDirect) {
        direct_.Run(config_.pfs_dir, c);
      } else {
        remote.push_back(c);
      }
    }
    if (remote.empty()) return;
  }
  const std::vector<Call*>& calls = any_direct ? remote : all;
  // Once every daemon a call needs was asked (all but the first calls), nothing is allocated.
  bool ask = false;
  for (Call* c : calls) ask |= config_.auto_sm && t.NeedsIntroduction(c->daemon);
  if (ask) {
    std::vector<Call> intro;
    intro.reserve(calls.size());
    std::vector<Call*> ptrs;
    for (Call* c : calls) {
      if (!t.NeedsIntroduction(c->daemon)) continue;
      bool listed = false;
      for (const Call& i : intro) listed |= i.daemon == c->daemon;
      if (listed) continue;
      intro.emplace_back();
      intro.back().daemon = c->daemon;
      intro.back().verb = rpc::Verb::kFsConfig;
      ptrs.push_back(&intro.back());
    }
    if (!ptrs.empty()) {
      t.Run(ptrs);
      for (const Call& i : intro) ApplyIntroduction(t, i.daemon, i);
    }
  }
  t.Run(calls);
}

Call ClientImpl::MetaCall(const std::string& path, rpc::Verb verb, std::string body) {
  Call call;
  call.daemon = MetadataOwner(path);
  call.verb = verb;
  call.body = std::move(body);
  return call;
}

Call ClientImpl::StatCall(const std::string& path) {
  return MetaCall(path, rpc::Verb::kStat, rpc::EncodeBody(rpc::TargetRequest{rpc::Target{path, 0}}));
}

Call ClientImpl::InodeCall(uint64_t ino, rpc::Verb verb, std::string body) {
  Call call;
  call.daemon = InodeOwner(ino);
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

Status DecodeCreate(const Call& call, Metadata* md, bool* created, uint64_t* remote_ino) {
  if (created != nullptr) *created = false;
  if (!call.status.ok()) return call.status;
  rpc::CreateReply r;
  Status s = rpc::DecodeBody(call.reply_body, &r, "create reply");
  if (s.ok() && remote_ino != nullptr) *remote_ino = r.remote_ino;
  if (s.ok() && r.remote_ino == 0) s = DecodeMetadata(r.record, md);
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

// remote_ino, the first field of every reply to a Target-addressed request; 0 if absent.
static uint64_t PeekRemote(const std::string& reply_body) {
  Decoder d(reply_body);
  uint64_t remote = d.U64();
  return d.bad() ? 0 : remote;
}

Status ClientImpl::DecodeStat(const Call& call, Metadata* md) {
  uint64_t remote = call.status.ok() ? PeekRemote(call.reply_body) : 0;
  return remote != 0 ? StatInode(remote, md) : DecodeRecord(call, md);
}

template <class Req>
Status ClientImpl::CallTarget(rpc::Verb verb, Req req, Call* call) {
  for (int hop = 0;; ++hop) {
    *call = Call();
    call->daemon = TargetOwner(req.target);
    call->verb = verb;
    call->body = rpc::EncodeBody(req);
    Status s = CallOne(call);
    if (!s.ok()) return s;
    uint64_t remote = PeekRemote(call->reply_body);
    if (remote == 0) return s;
    // The entry's daemon is the inode's home, yet lacks it: a dangling entry.
    if (hop > 0 || InodeOwner(remote) == call->daemon) {
      return Status::Error(ENOENT, "the entry names an inode that does not exist");
    }
    req.target = rpc::Target{"", remote};
  }
}

Status ClientImpl::StatTarget(const rpc::Target& target, Metadata* md, uint64_t opener) {
  Call call;  // CallTarget's second hop sends the same request by ino: the opener goes along
  Status s = CallTarget(rpc::Verb::kStat, rpc::TargetRequest{target, opener}, &call);
  return s.ok() ? DecodeRecord(call, md) : s;
}

Status ClientImpl::StatInode(uint64_t ino, Metadata* md, uint64_t opener) {
  return StatTarget(rpc::Target{"", ino}, md, opener);
}

Status ClientImpl::RecordOrRemote(Status s, const std::string& record, uint64_t remote_ino, Metadata* md,
                                  uint64_t opener) {
  if (!s.ok()) return s;
  return remote_ino != 0 ? StatInode(remote_ino, md, opener) : DecodeMetadata(record, md);
}

Status ClientImpl::StatLocked(const std::string& path, Metadata* md, uint64_t opener) {
  return StatTarget(rpc::Target{path, 0}, md, opener);
}

void ClientImpl::RenewSessions() {
  if (config_.session_lease_ms < 3) return;  // a daemon without sessions (forwarding mode)
  leases_ = std::make_unique<SessionLeases>(
      [this](uint64_t opener, const std::vector<uint64_t>& inos) { return Renew(opener, inos); },
      config_.session_lease_ms / 3);
}

Status ClientImpl::OpenFile(const std::string& path, bool create, uint32_t mode, bool exclusive, uint64_t opener,
                            Metadata* md, bool* created) {
  if (created != nullptr) *created = false;
  if (routing_->by_path()) opener = 0;  // a store of paths counts no opens
  Status s;
  if (!create) {
    s = StatLocked(path, md, opener);
  } else {
    rpc::CreateRequest req = CreateBody(path, S_IFREG | (mode & 07777), exclusive);
    req.opener = opener;
    s = CreateLocked(std::move(req), md, created);
  }
  if (s.ok() && opener != 0 && md->is_regular() && leases_ != nullptr) leases_->Opened(opener, md->file_id);
  return s;
}

Status ClientImpl::Release(uint64_t opener, const std::vector<uint64_t>& inos) {
  if (routing_->by_path()) return Status::OK();  // a store of paths counts no opens
  if (leases_ != nullptr) leases_->Released(opener, inos);
  return ReleaseLocked(opener, inos);
}

// One request per home of the inos (split at rpc::kMaxRelease), each carrying its inos.
std::vector<Call> ClientImpl::SessionCalls(rpc::Verb verb, uint64_t opener, const std::vector<uint64_t>& inos) {
  std::map<uint32_t, std::vector<uint64_t>> by_home;
  for (uint64_t ino : inos) by_home[InodeOwner(ino)].push_back(ino);
  std::vector<Call> calls;
  for (const auto& [home, held] : by_home) {
    for (size_t start = 0; start < held.size(); start += rpc::kMaxRelease) {
      rpc::ReleaseRequest part;
      part.opener = opener;
      part.inos.assign(held.begin() + start, held.begin() + std::min(held.size(), start + rpc::kMaxRelease));
      calls.push_back(Call());
      calls.back().daemon = home;
      calls.back().verb = verb;
      calls.back().body = rpc::EncodeBody(part);
    }
  }
  return calls;
}

Status ClientImpl::Renew(uint64_t opener, const std::vector<uint64_t>& inos) {
  if (routing_->by_path()) return Status::OK();  // a store of paths counts no opens
  std::vector<Call> calls = SessionCalls(rpc::Verb::kRenew, opener, inos);
  return RunAll(calls);
}

Status ClientImpl::ReleaseLocked(uint64_t opener, const std::vector<uint64_t>& inos) {
  std::vector<Call> calls = SessionCalls(rpc::Verb::kRelease, opener, inos);
  Status first = RunAll(calls);
  for (const Call& call : calls) {
    rpc::ReleaseReply reply;
    if (!call.status.ok() || !rpc::DecodeBody(call.reply_body, &reply, "release reply").ok()) continue;
    Status s = ReclaimReleased(reply);  // also when the release failed midway: see ReleaseReply
    if (first.ok() && reply.status != 0) first = Status::Error(reply.status, "release failed on daemon");
    if (first.ok()) first = s;
  }
  return first;
}

Status ClientImpl::ReclaimReleased(const rpc::ReleaseReply& released) {
  Status first;
  for (const auto& [ino, size] : released.reclaimed) {
    Metadata gone;
    gone.mode = S_IFREG;
    gone.file_id = ino;
    gone.size = size;
    Status s = ReclaimLocked(gone, rpc::kReclaim);
    if (first.ok()) first = s;
  }
  return first;
}

Status ClientImpl::Stat(const std::string& path, Metadata* md) {
  return StatLocked(path, md);
}

Status ClientImpl::Resolve(const std::string& path, bool follow_last, std::string* resolved, Metadata* md,
                           bool* exists) {
  *exists = false;
  Status s = StatLocked(path, md);
  // A record at path means no link on the way to it: entries live under real directories.
  if (s.ok() && !(follow_last && S_ISLNK(md->mode))) {
    *resolved = path;
    *exists = true;
    return s;
  }
  if (!s.ok() && s.code() != ENOENT && s.code() != ENOTDIR) return s;
  // One lookup per name in a resolution: the walk meets path's own first lookup again, and
  // the last lookup the walk's (a miss, a link's target). Kept only once a walk is needed.
  std::map<std::string, std::pair<Status, Metadata>> seen;
  seen.emplace(path, std::make_pair(s, *md));
  auto lookup = [this, &seen](const std::string& p, Metadata* m) {
    auto it = seen.find(p);
    if (it == seen.end()) {
      Metadata found;
      Status looked = StatLocked(p, &found);
      it = seen.emplace(p, std::make_pair(std::move(looked), std::move(found))).first;
    }
    *m = it->second.second;
    return it->second.first;
  };
  LinkWalk walk;
  walk.mountdir = config_.mountdir;
  walk.stat = lookup;
  std::string mount = config_.mountdir;
  while (mount.size() > 1 && mount.back() == '/') mount.pop_back();
  walk.Walk(path == "/" ? mount + "/" : mount + path, follow_last);
  if (walk.error != 0) return Status::Error(walk.error, "resolving " + path);
  *resolved = walk.Internal(walk.resolved);
  if (resolved->empty()) {
    return Status::Error(ENOENT, "a symbolic link leads out of the file system, to " + walk.resolved);
  }
  if (walk.have_md) {
    *md = std::move(walk.md);
    *exists = true;
    return Status::OK();
  }
  s = lookup(*resolved, md);
  if (s.code() == ENOENT) return Status::OK();  // the last component is missing
  *exists = s.ok();
  return s;
}

Status ClientImpl::StatFile(const std::string& path, uint64_t file_id, Metadata* md) {
  return StatTarget(FileTarget(path, file_id), md);
}

// A CreateInDir/RemoveInDir reply as the pair a TouchDir and the operation beside it give:
// *dir the parent's outcome; returns the operation's status (r: its reply).
Status ClientImpl::DecodeInDir(const Call& call, DirTouch* dir, rpc::InDirReply* r) {
  Status s = call.status;
  if (s.ok()) s = rpc::DecodeBody(call.reply_body, r, "reply");
  if (!s.ok()) {
    dir->status = s;
    return s;
  }
  if (!r->dir_record.empty() && !(dir->status = DecodeMetadata(r->dir_record, &dir->before)).ok()) {
    return dir->status;
  }
  if (r->dir_status != 0) {
    dir->status = Status::Error(r->dir_status, r->dir_status == ENOTDIR ? "a parent is not a directory"
                                                                        : "no such directory");
    return dir->status;
  }
  dir->remote = r->dir_remote;
  dir->touched_ns = r->touched_ns;
  if (r->status != 0) return Status::Error(r->status, std::string(rpc::VerbName(call.verb)) + " failed on daemon");
  return Status::OK();
}

// One round trip: the create and the touch of the parent, whose record answers whether the
// parent exists and what it permits. What a failing or denied call did is undone.
Status ClientImpl::CreateLocked(rpc::CreateRequest req, Metadata* md, bool* created) {
  if (created != nullptr) *created = false;
  if (req.path == "/") return Status::Error(EEXIST, "the root directory exists");
  if (routing_->by_path()) {  // others see that store at once: check before, never undo
    Status checked = CheckEntryChangeLocked(req.path, true);
    if (!checked.ok()) return checked;
  }
  req.home = MetadataOwner(req.path);
  const std::string parent = ParentPath(req.path);
  const int32_t subdir = S_ISDIR(req.mode) ? 1 : 0;
  bool made = false;
  Metadata record;
  DirTouch dir;
  Status cs;
  uint64_t remote = 0;
  bool in_dir = OneOwnerWithParent(req.path, parent);
  if (in_dir) {
    Call call = MetaCall(req.path, rpc::Verb::kCreateInDir, rpc::EncodeBody(req));
    CallOne(&call);
    rpc::InDirReply r;
    cs = DecodeInDir(call, &dir, &r);
    dir.nlink_delta = subdir;
    if (dir.remote != 0) {
      in_dir = false;  // the parent's inode lives elsewhere: the two-call form
    } else {
      made = cs.ok() && r.done;
      cs = RecordOrRemote(cs, r.record, r.remote_ino, &record, req.opener);
    }
  }
  if (!in_dir) {
    Call create = MetaCall(req.path, rpc::Verb::kCreate, rpc::EncodeBody(req));
    dir = RunBesideTouch(&create, dir.remote != 0 ? rpc::Target{"", dir.remote} : rpc::Target{parent, 0}, subdir);
    cs = DecodeCreate(create, &record, &made, &remote);
    if (cs.ok() && remote != 0) cs = StatInode(remote, &record, req.opener);
  }
  // An open's lookup that found or made a regular file counted it at the file's home.
  const bool counted = req.opener != 0 && cs.ok() && record.is_regular();
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
    rm.path = req.path;
    rm.kind = req.ino != 0 ? rpc::kEntryOnly : 0;  // a link's count is its caller's to undo
    undo.push_back(MetaCall(req.path, rpc::Verb::kRemove, rpc::EncodeBody(rm)));
  }
  if (!made) dir.nlink_delta = subdir;
  AddUntouch(dir, &undo);
  if (!undo.empty()) RunAll(undo);
  // The open failed: its count goes too (after the undo, so a file it made is reclaimed).
  if (counted && !s.ok()) ReleaseLocked(req.opener, {record.file_id});
  return s;
}

Status ClientImpl::Create(const std::string& path, uint32_t mode, bool exclusive, Metadata* md,
                          bool* created) {
  return CreateLocked(CreateBody(path, S_IFREG | (mode & 07777), exclusive), md, created);
}

Status ClientImpl::Mkdir(const std::string& path, uint32_t mode) {
  Metadata md;
  return CreateLocked(CreateBody(path, S_IFDIR | (mode & 07777), true), &md, nullptr);
}

Status ClientImpl::Symlink(const std::string& path, const std::string& target) {
  if (target.empty()) return Status::Error(ENOENT, "empty symlink target");
  if (target.size() >= PATH_MAX) return Status::Error(ENAMETOOLONG, "symlink target longer than PATH_MAX");
  Metadata md;
  return CreateLocked(CreateBody(path, S_IFLNK | 0777, true, target), &md, nullptr);
}

Status ClientImpl::Mknod(const std::string& path, uint32_t mode, uint64_t rdev) {
  switch (mode & S_IFMT) {
    case 0: mode |= S_IFREG; break;
    case S_IFREG: case S_IFIFO: case S_IFSOCK: case S_IFCHR: case S_IFBLK: break;
    default: return Status::Error(EINVAL, "mknod of a directory or symlink");
  }
  rpc::CreateRequest req = CreateBody(path, mode & (S_IFMT | 07777), true);
  if (S_ISCHR(mode) || S_ISBLK(mode)) req.rdev = rdev;
  Metadata md;
  return CreateLocked(std::move(req), &md, nullptr);
}

Status ClientImpl::Link(const std::string& old_path, const std::string& new_path) {
  Metadata md;
  Status s = StatLocked(old_path, &md);
  if (!s.ok()) return s;
  if (md.is_dir()) return Status::Error(EPERM, "hard links to directories are not allowed");
  rpc::CreateRequest req = CreateBody(new_path, md.mode, true);
  req.ino = md.file_id;
  Metadata linked;
  if (routing_->by_path()) {  // link(2) on the store, which counts the links itself
    req.link_target = old_path;
    return CreateLocked(std::move(req), &linked, nullptr);
  }
  // The count goes up first, so that an unlink of old_path meanwhile cannot free the inode.
  rpc::LinksRequest up;
  up.ino = md.file_id;
  up.delta = 1;
  Call call = InodeCall(md.file_id, rpc::Verb::kLinks, rpc::EncodeBody(up));
  if (!(s = CallOne(&call)).ok()) return s;
  s = CreateLocked(std::move(req), &linked, nullptr);
  if (s.ok()) return s;
  Metadata after;
  uint8_t reclaim = 0;
  if (DropLinkLocked(md.file_id, &after, &reclaim).ok()) ReclaimLocked(after, reclaim);
  return s;
}

std::vector<uint32_t> ClientImpl::ChunkOwners(uint64_t file_id, uint64_t size) const {
  uint64_t chunks = (size + config_.chunk_size - 1) / config_.chunk_size;
  if (chunks >= routing_->sharer_count() * 4ull) return {};  // all of them
  std::vector<uint32_t> owners;
  for (uint64_t i = 0; i < chunks; ++i) owners.push_back(routing_->ChunkOwner(file_id, i));
  std::sort(owners.begin(), owners.end());
  owners.erase(std::unique(owners.begin(), owners.end()), owners.end());
  if (owners.empty()) owners.push_back(routing_->ChunkOwner(file_id, 0));
  return owners;
}

Status ClientImpl::Broadcast(rpc::Verb verb, const std::string& body, const std::vector<uint32_t>& targets) {
  const std::vector<uint32_t> daemons = targets.empty() ? routing_->Sharers() : targets;
  std::vector<Call> calls(daemons.size());
  for (size_t i = 0; i < calls.size(); ++i) {
    calls[i].daemon = daemons[i];
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
  const std::vector<uint32_t> daemons = routing_->Sharers();
  std::vector<Call> calls(daemons.size());
  std::vector<Call*> ptrs;
  for (uint32_t i = 0; i < calls.size(); ++i) {
    calls[i].daemon = daemons[i];
    calls[i].verb = rpc::Verb::kReadDir;
    calls[i].body = body;
    ptrs.push_back(&calls[i]);
  }
  Call stat = StatCall(path);
  if (check_dir) ptrs.push_back(&stat);
  if (extra != nullptr) ptrs.push_back(extra);
  RunCalls(ptrs);
  if (check_dir) {
    Metadata md;
    Status s = DecodeStat(stat, &md);
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
    for (auto& w : wire) merged.push_back({std::move(w.name), w.type, w.ino});
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
  return ReadDirLocked(path, start_after, max_entries, start_after.empty(), entries, end);
}

Status ClientImpl::ReadDir(const std::string& path, std::vector<DirEntry>* entries) {
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

Status ClientImpl::SetAttrLocked(const rpc::Target& target, int64_t mode, int64_t atime_ns, int64_t mtime_ns,
                                 int64_t uid, int64_t gid) {
  rpc::SetAttrRequest req;
  req.target = target;
  req.mode = mode;
  req.atime_ns = atime_ns;
  req.mtime_ns = mtime_ns;
  req.uid = uid;
  req.gid = gid;
  Call call;
  return CallTarget(rpc::Verb::kSetAttr, req, &call);
}

Status ClientImpl::SetAttr(const std::string& path, int64_t mode, int64_t atime_ns, int64_t mtime_ns,
                           int64_t uid, int64_t gid) {
  return SetAttrLocked(rpc::Target{path, 0}, mode, atime_ns, mtime_ns, uid, gid);
}

Status ClientImpl::SetAttrFile(const std::string& path, uint64_t file_id, int64_t mode, int64_t atime_ns,
                               int64_t mtime_ns, int64_t uid, int64_t gid) {
  return SetAttrLocked(FileTarget(path, file_id), mode, atime_ns, mtime_ns, uid, gid);
}

Status ClientImpl::Ping(uint32_t daemon, const void* payload, size_t send_bytes, void* reply,
                        size_t reply_bytes) {
  if (daemon >= hosts_.size()) return Status::Error(EINVAL, "no daemon with index " + std::to_string(daemon));
  if (reply_bytes > rpc::kMaxPingReply) return Status::Error(EINVAL, "ping reply larger than 64 MiB");
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

Status ClientImpl::AskDaemon(uint32_t daemon, rpc::Verb verb, Call* call) {
  if (daemon >= hosts_.size()) return Status::Error(EINVAL, "no daemon with index " + std::to_string(daemon));
  call->daemon = daemon;
  call->verb = verb;
  return CallOne(call);
}

Status ClientImpl::IoNodeStatistics(uint32_t daemon, IoNodeStats* stats) {
  Call call;
  Status s = AskDaemon(daemon, rpc::Verb::kFwdStats, &call);
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

Status ClientImpl::Metrics(uint32_t daemon, std::string* text) {
  Call call;
  Status s = AskDaemon(daemon, rpc::Verb::kMetrics, &call);
  if (s.ok()) *text = std::move(call.payload_in);
  return s;
}

Status ClientImpl::Daemons(std::vector<DaemonInfo>* infos) {
  std::vector<Call> calls(hosts_.size());
  std::vector<Call*> ptrs;
  for (uint32_t i = 0; i < calls.size(); ++i) {
    calls[i].daemon = i;
    calls[i].verb = rpc::Verb::kHealth;
    ptrs.push_back(&calls[i]);
  }
  auto t = transports_.Acquire();
  RunCallsOn(*t, ptrs);
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
    info.orphans = r.orphans;
    info.syncs = r.syncs;
    info.shared_memory = t->UsesSharedMemory(i);
    infos->push_back(std::move(info));
  }
  return Status::OK();
}

// The daemons that share the file system's storage: every daemon, or the I/O node (all I/O
// nodes share one PFS directory: summing them would count it once per node).
Status ClientImpl::StatFs(FsStats* stats) {
  const std::vector<uint32_t> daemons = routing_->Sharers();
  std::vector<Call> calls(daemons.size());
  for (size_t i = 0; i < calls.size(); ++i) {
    calls[i].daemon = daemons[i];
    calls[i].verb = rpc::Verb::kHealth;
  }
  RunAll(calls);
  *stats = FsStats();
  for (const Call& call : calls) {
    rpc::HealthReply r;
    Status s = call.status;
    if (s.ok()) s = rpc::DecodeBody(call.reply_body, &r, "health reply");
    if (!s.ok()) return Status::Error(EHOSTDOWN, "daemon " + hosts_[call.daemon].uri + " is down: " + s.ToString());
    stats->total_bytes += r.total_bytes;
    stats->free_bytes += r.free_bytes;
    stats->files += r.files;
  }
  return Status::OK();
}

}  // namespace gkfs

namespace gkfs {
template Status ClientImpl::CallTarget(rpc::Verb, rpc::TargetRequest, Call*);
template Status ClientImpl::CallTarget(rpc::Verb, rpc::SetAttrRequest, Call*);
template Status ClientImpl::CallTarget(rpc::Verb, rpc::SizeRequest, Call*);
}  // namespace gkfs
