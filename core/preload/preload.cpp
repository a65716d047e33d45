// Library start-up (configuration, inherited descriptors), logging, the lazily connected
// Client and fork handling.
//
// Start-up work is kept tiny because every process under LD_PRELOAD pays it: read the
// environment, scan /proc/self/fd for inherited gkfs descriptors. The client library (and with
// it UCX) is loaded on the first access under the mount directory.
#include <fcntl.h>
#include <linux/limits.h>
#include <pthread.h>

#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "common/log_level.h"
#include "preload/permissions.h"
#include "preload/client_loader.h"
#include "preload/fd_table.h"
#include "preload/libc.h"
#include "preload/locks.h"
#include "preload/path_resolver.h"
#include "preload/preload.h"
#include "preload/open_registry.h"
#include "preload/std_streams.h"

namespace gkfs::preload {

thread_local int ReentryGuard::depth_ = 0;

namespace {

int g_log_fd = 2;

LogLevel ParseLogLevel(const char* value) {
  int level = value == nullptr ? -1 : ParseLogLevelText(value);
  return level < 0 ? LogLevel::kErrors : static_cast<LogLevel>(level);
}

// Absolute form of a path relative to the start-up working directory.
std::string Absolute(const char* path) {
  if (path[0] == '/') return path;
  char cwd[PATH_MAX];
  if (sys::Getcwd(cwd, sizeof(cwd)) < 0) return path;
  return std::string(cwd) + "/" + path;
}

// A decimal id (LIBGKFS_APP_ID, SLURM_JOB_ID); 0 for anything else.
uint32_t ParseAppId(const char* value) {
  if (value == nullptr || *value < '0' || *value > '9') return 0;
  char* end = nullptr;
  unsigned long id = std::strtoul(value, &end, 10);
  return *end == '\0' && id <= UINT32_MAX ? static_cast<uint32_t>(id) : 0;
}

// LIBGKFS_READ_AHEAD: bytes, or KiB/MiB with a K or M suffix; at most 64 MiB. Anything
// else (and 0) turns read-ahead off.
size_t ParseReadAhead(const char* text) {
  if (text == nullptr || *text == '\0') return 0;
  char* end = nullptr;
  const int saved_errno = errno;  // the application's: start-up leaves no trace in it
  errno = 0;
  unsigned long long n = std::strtoull(text, &end, 10);
  const bool overflow = errno != 0;
  errno = saved_errno;
  if (overflow || end == text || *text == '-') return 0;
  constexpr unsigned long long kMax = 64ULL << 20;
  unsigned shift = 0;
  if (*end == 'K' || *end == 'k') shift = 10, ++end;
  else if (*end == 'M' || *end == 'm') shift = 20, ++end;
  if (*end != '\0' || n > (kMax >> shift)) return 0;  // checked before the shift can wrap
  return static_cast<size_t>(n << shift);
}

const Config* LoadConfig() {
  auto* cfg = new Config();  // never freed: hooks may run during exit
  const char* mount = std::getenv("LIBGKFS_MOUNTDIR");
  std::string normalised;
  if (mount == nullptr || !NormalizePath(Absolute(mount), &normalised).ok()) {
    normalised = "/tmp/gkfs_mountdir";
  }
  cfg->mountdir = normalised == "/" ? "" : normalised;
  const char* hosts = std::getenv("LIBGKFS_HOSTS_FILE");
  cfg->hosts_file = Absolute(hosts != nullptr && *hosts ? hosts : "./gkfs_hosts.txt");
  if (const char* t = std::getenv("LIBGKFS_TIMEOUT_MS")) cfg->timeout_ms = std::atoi(t);
  if (const char* t = std::getenv("LIBGKFS_DOWN_RECHECK_MS")) cfg->down_recheck_ms = std::atoi(t);
  if (const char* t = std::getenv("LIBGKFS_RECHECK_TIMEOUT_MS")) cfg->recheck_timeout_ms = std::atoi(t);
  if (const char* f = std::getenv("LIBGKFS_SECRET_FILE"); f != nullptr && *f) {
    cfg->secret_file = Absolute(f);
  }
  const char* map = std::getenv("LIBGKFS_FORWARDING_MAP_FILE");
  if (map != nullptr && *map) cfg->forwarding_map_file = Absolute(map);
  if (const char* host = std::getenv("LIBGKFS_HOSTNAME")) cfg->hostname = host;
  const char* app = std::getenv("LIBGKFS_APP_ID");
  cfg->app_id = ParseAppId(app != nullptr && *app ? app : std::getenv("SLURM_JOB_ID"));
  cfg->log_level = ParseLogLevel(std::getenv("LIBGKFS_LOG"));
  cfg->read_ahead = ParseReadAhead(std::getenv("LIBGKFS_READ_AHEAD"));
  const char* output = std::getenv("LIBGKFS_LOG_OUTPUT");
  if (output != nullptr && *output && cfg->log_level != LogLevel::kNone) {
    int fd = sys::Open(output, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) g_log_fd = RelocateInternalFd(fd);
  }
  return cfg;
}

// --- the instance secret ---
// Its file is readable by its owner only (root, when root started the file system), and a
// program may give up root before its first gkfs call: the secret it could read at start-up
// is therefore kept (in memory only: no descriptor stays open) and used when the file
// cannot be read at connect time. A file that can be read then is read again: the
// file system may have been restarted with a new secret since.
constexpr size_t kSecretTextMax = 128;  // 32 hex digits and white space
char g_secret_at_start[kSecretTextMax];
size_t g_secret_at_start_len = 0;

// The secret file's contents (up to kSecretTextMax bytes); false if it cannot be read.
bool ReadSecretText(const Config& cfg, char* buf, size_t* len) {
  std::string path = cfg.secret_file.empty() ? cfg.hosts_file + ".secret" : cfg.secret_file;
  int saved = errno;
  int fd = sys::Open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ssize_t n = fd < 0 ? -1 : syscall(SYS_read, fd, buf, kSecretTextMax);
  if (fd >= 0) sys::Close(fd);
  errno = saved;
  if (n <= 0) return false;
  *len = static_cast<size_t>(n);
  return true;
}

// The secret to hand to the Client: read now, else the one read at start-up, else none
// (the Client then reads the file itself and reports why it cannot).
std::string SecretForConnect(const Config& cfg) {
  char buf[kSecretTextMax];
  size_t len = 0;
  if (ReadSecretText(cfg, buf, &len)) return std::string(buf, len);
  return std::string(g_secret_at_start, g_secret_at_start_len);
}

// --- the Client ---
pthread_rwlock_t g_use_lock = PTHREAD_RWLOCK_INITIALIZER;  // see ClientUse
std::mutex g_client_mu;  // constant-initialised: hooks may run before static initialisers
std::atomic<Client*> g_client{nullptr};
Status* g_connect_error = nullptr;  // GUARDED_BY(g_client_mu): first failure, kept
std::atomic<bool> g_exiting{false};
std::atomic<pid_t> g_pid{0};  // this process; a vfork child sees another getpid()
std::atomic<uint64_t> g_chunk_size{0};

// UCX is not fork-safe: close the Client (in the process that created it) before forking,
// once no operation is in flight; both sides connect again when they next need it.
void AtForkPrepare() {
  pthread_rwlock_wrlock(&g_use_lock);
  if (Client* client = g_client.exchange(nullptr)) {
    ReentryGuard guard;
    delete client;
  }
  fds::LockForFork();
  streams::LockForFork();
  locks::LockForFork();
}

void AtForkParent() {
  locks::UnlockAfterFork();
  streams::UnlockAfterFork();
  fds::UnlockAfterFork();
  pthread_rwlock_unlock(&g_use_lock);
}

void AtForkChild() {
  g_pid.store(static_cast<pid_t>(syscall(SYS_getpid)));
  locks::UnlockAfterFork();
  streams::UnlockAfterFork();
  fds::UnlockAfterFork();
  // The child's only thread holds it, under the parent thread's id: start from scratch.
  g_use_lock = PTHREAD_RWLOCK_INITIALIZER;
  g_connect_error = nullptr;  // the child tries on its own
  opens::AtForkChild();
}

__attribute__((constructor)) void OnLoad() {
  g_pid.store(static_cast<pid_t>(syscall(SYS_getpid)));
  ReadSecretText(config(), g_secret_at_start, &g_secret_at_start_len);
  pthread_atfork(AtForkPrepare, AtForkParent, AtForkChild);
  fds::ScanInherited();
  cwd::Init();
  streams::AttachInherited();
}

// Streams the application left unflushed are flushed here, while UCX is still alive.
__attribute__((destructor)) void OnUnload() {
  streams::FlushAll();
  if (!InVforkChild()) opens::ReleaseAll();
  g_exiting.store(true);
}

}  // namespace

uint64_t ChunkSize() {
  uint64_t size = g_chunk_size.load(std::memory_order_relaxed);
  return size > 0 ? size : 4096;
}

bool InVforkChild() {
  pid_t pid = g_pid.load(std::memory_order_relaxed);
  return pid != 0 && pid != static_cast<pid_t>(syscall(SYS_getpid));
}

ClientUse::ClientUse() { pthread_rwlock_rdlock(&g_use_lock); }
ClientUse::~ClientUse() { pthread_rwlock_unlock(&g_use_lock); }

const Config& config() {
  static const Config* cfg = LoadConfig();
  return *cfg;
}

void Log(LogLevel level, const char* fmt, ...) {
  if (static_cast<int>(level) > static_cast<int>(config().log_level)) return;
  if (g_log_fd == 2 && fds::MaybeOurs(2)) return;  // stderr is a gkfs file: do not recurse
  static const char* const kNames[] = {"", "error", "info", "debug"};
  char buf[1024];
  int n = std::snprintf(buf, sizeof(buf), "[gkfs %d] %s: ", static_cast<int>(getpid()),
                        kNames[static_cast<int>(level)]);
  va_list ap;
  va_start(ap, fmt);
  n += std::vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
  va_end(ap);
  n = std::min(n, static_cast<int>(sizeof(buf)) - 2);
  buf[n++] = '\n';
  sys::Write(g_log_fd, buf, n);
}

Client* AcquireClient(Status* status) {
  Client* client = g_client.load(std::memory_order_acquire);
  if (client != nullptr) return client;
  if (g_exiting.load()) {
    *status = Status::Error(EIO, "gkfs client used after library shutdown");
    return nullptr;
  }
  std::lock_guard<std::mutex> lock(g_client_mu);
  if ((client = g_client.load()) != nullptr) return client;
  if (g_connect_error != nullptr) {
    *status = *g_connect_error;
    return nullptr;
  }
  const Config& cfg = config();
  ClientOptions options;
  options.hosts_file = cfg.hosts_file;
  if (cfg.timeout_ms > 0) options.timeout_ms = cfg.timeout_ms;
  if (cfg.down_recheck_ms > 0) options.down_recheck_ms = cfg.down_recheck_ms;
  if (cfg.recheck_timeout_ms > 0) options.recheck_timeout_ms = cfg.recheck_timeout_ms;
  options.secret_file = cfg.secret_file;
  options.secret = SecretForConnect(cfg);
  options.forwarding_map_file = cfg.forwarding_map_file;
  options.hostname = cfg.hostname;
  options.app_id = cfg.app_id;
  options.credentials = &CallerCredentials();
  options.renew_sessions = false;  // open_registry.cpp renews: its counts outlive a reconnect
  std::unique_ptr<Client> connected;
  Status s = ConnectClient(options, &connected);
  if (!s.ok()) {
    Log(LogLevel::kErrors, "cannot connect to gkfs (hosts file %s): %s", cfg.hosts_file.c_str(),
        s.ToString().c_str());
    g_connect_error = new Status(Status::Error(s.code() == EHOSTDOWN ? EHOSTDOWN : EIO,
                                               s.message()));
    *status = *g_connect_error;
    return nullptr;
  }
  if (connected->config().mountdir != cfg.mountdir) {
    Log(LogLevel::kInfo, "daemons advertise mount dir %s, using LIBGKFS_MOUNTDIR %s",
        connected->config().mountdir.c_str(), cfg.mountdir.c_str());
  }
  Log(LogLevel::kInfo, "connected to %u daemons", connected->config().num_daemons);
  g_chunk_size.store(connected->config().chunk_size);
  client = connected.release();  // not destroyed at exit: UCX threads may outlive exit handlers
  g_client.store(client, std::memory_order_release);
  return client;
}

int FailWith(const Status& status) {
  int code = status.code();
  if (code <= 0 || code >= 4096) code = EIO;
  Log(LogLevel::kDebug, "-> %s", status.ToString().c_str());
  errno = code;
  return -1;
}

}  // namespace gkfs::preload
