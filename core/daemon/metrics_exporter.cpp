#include "daemon/metrics_exporter.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "common/log.h"

namespace gkfs {
namespace {

using Clock = std::chrono::steady_clock;

void SetTimeouts(int fd) {
  struct timeval tv{MetricsExporter::kIoTimeoutMs / 1000, (MetricsExporter::kIoTimeoutMs % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

bool SendAll(int fd, const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

// Reads until the end of the HTTP head (a blank line), at most 8 KiB; false on timeout.
bool ReadHead(int fd, std::string* head) {
  char buf[1024];
  while (head->find("\r\n\r\n") == std::string::npos && head->size() < 8192) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return !head->empty();
    head->append(buf, static_cast<size_t>(n));
  }
  return true;
}

std::string HttpResponse(const char* status, const char* type, const std::string& body) {
  return std::string("HTTP/1.1 ") + status + "\r\nContent-Type: " + type +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

// Connects to host:port within kIoTimeoutMs; -1 and *error on failure.
int ConnectTo(const std::string& host, const std::string& port, std::string* error) {
  struct addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  struct addrinfo* found = nullptr;
  int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0) {
    *error = "cannot resolve '" + host + "': " + gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  for (struct addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) continue;
    if (connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno == EINPROGRESS) {
      struct pollfd p{fd, POLLOUT, 0};
      int soerr = ETIMEDOUT;
      socklen_t len = sizeof(soerr);
      if (poll(&p, 1, MetricsExporter::kIoTimeoutMs) == 1) getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
      errno = soerr;
    } else {
      errno = 0;
    }
    if (errno != 0) {
      *error = "cannot connect to " + host + ":" + port + ": " + strerror(errno);
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  if (fd >= 0) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    SetTimeouts(fd);
  }
  return fd;
}

}  // namespace

class MetricsExporter::Impl {
 public:
  Impl(Options options, const DaemonMetrics* metrics) : options_(std::move(options)), metrics_(metrics) {}

  ~Impl() {
    if (thread_.joinable()) {
      uint64_t one = 1;
      ssize_t ignored = write(stop_fd_, &one, sizeof(one));
      (void)ignored;
      thread_.join();
    }
    if (listen_fd_ >= 0) close(listen_fd_);
    if (stop_fd_ >= 0) close(stop_fd_);
  }

  Status Start() {
    stop_fd_ = eventfd(0, EFD_CLOEXEC);
    if (stop_fd_ < 0) return Status::Error(errno, std::string("eventfd: ") + strerror(errno));
    if (options_.port != 0) {
      Status s = Listen();
      if (!s.ok()) return s;
    }
    if (!options_.gateway.empty()) {
      std::string g = options_.gateway;
      if (g.rfind("http://", 0) == 0) g = g.substr(7);
      if (!g.empty() && g.back() == '/') g.pop_back();
      size_t colon = g.rfind(':');
      gateway_host_ = colon == std::string::npos ? g : g.substr(0, colon);
      gateway_port_ = colon == std::string::npos ? "9091" : g.substr(colon + 1);
      if (gateway_host_.empty() || gateway_port_.empty() ||
          gateway_port_.find_first_not_of("0123456789") != std::string::npos) {
        return Status::Error(EINVAL, "--prometheus-gateway '" + options_.gateway + "' is not HOST:PORT");
      }
    }
    thread_ = std::thread([this] { Loop(); });
    return Status::OK();
  }

 private:
  Status Listen() {
    struct sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(options_.port);
    if (inet_pton(AF_INET, options_.address.c_str(), &sa.sin_addr) != 1) {
      return Status::Error(EINVAL, "metrics address '" + options_.address + "' is not an IPv4 address");
    }
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<struct sockaddr*>(&sa), sizeof(sa)) != 0 ||
        listen(listen_fd_, 16) != 0) {
      int err = errno;
      return Status::Error(err, "--metrics-port " + std::to_string(options_.port) + ": cannot listen on " +
                                    options_.address + ":" + std::to_string(options_.port) + ": " + strerror(err));
    }
    return Status::OK();
  }

  void Loop() {
    const auto interval = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(options_.push_interval_s > 0 ? options_.push_interval_s : 5.0));
    auto next_push = Clock::now();
    for (;;) {
      int timeout = -1;
      if (!gateway_host_.empty()) {
        auto now = Clock::now();
        if (now >= next_push) {
          Push();
          next_push = now + interval;
        }
        timeout = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(next_push - now).count()) + 1;
      }
      struct pollfd fds[2] = {{stop_fd_, POLLIN, 0}, {listen_fd_, POLLIN, 0}};
      int n = poll(fds, listen_fd_ >= 0 ? 2 : 1, timeout);
      if (n < 0 && errno != EINTR) break;
      if (fds[0].revents) break;
      if (listen_fd_ >= 0 && (fds[1].revents & POLLIN)) Serve();
    }
    if (!gateway_host_.empty()) Push();  // the last numbers of a daemon that stops
  }

  // Answers one HTTP request: GET /metrics (or /), else 404/405.
  void Serve() {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return;
    SetTimeouts(fd);
    std::string head;
    if (ReadHead(fd, &head)) {
      std::string line = head.substr(0, head.find("\r\n"));
      std::string method = line.substr(0, line.find(' '));
      size_t path_start = line.find(' ') == std::string::npos ? line.size() : line.find(' ') + 1;
      std::string path = line.substr(path_start, line.find(' ', path_start) - path_start);
      path = path.substr(0, path.find('?'));
      if (method != "GET" && method != "HEAD") {
        SendAll(fd, HttpResponse("405 Method Not Allowed", "text/plain", "only GET\n"));
      } else if (path != "/metrics" && path != "/") {
        SendAll(fd, HttpResponse("404 Not Found", "text/plain", "gkfs serves /metrics\n"));
      } else {
        std::string response = HttpResponse("200 OK", "text/plain; version=0.0.4; charset=utf-8", metrics_->Render());
        if (method == "HEAD") response.resize(response.find("\r\n\r\n") + 4);
        SendAll(fd, response);
      }
    }
    close(fd);
  }

  void Push() {
    std::string error;
    int fd = ConnectTo(gateway_host_, gateway_port_, &error);
    if (fd >= 0) {
      std::string body = metrics_->Render();
      std::string request = "PUT /metrics/job/gkfs/instance/" + options_.instance + " HTTP/1.1\r\nHost: " +
                            gateway_host_ + ":" + gateway_port_ +
                            "\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: " +
                            std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
      std::string head;
      if (!SendAll(fd, request) || !ReadHead(fd, &head)) {
        error = "no answer from Pushgateway " + options_.gateway;
      } else if (head.compare(0, 10, "HTTP/1.1 2") != 0 && head.compare(0, 10, "HTTP/1.0 2") != 0) {
        error = "Pushgateway " + options_.gateway + " refused the metrics: " + head.substr(0, head.find("\r\n"));
      }
      close(fd);
    }
    // One line when pushing starts failing and one when it works again, not one per push.
    if (!error.empty() && !push_failing_) GKFS_LOG(kError, "metrics push: " + error);
    if (error.empty() && push_failing_) GKFS_LOG(kError, "metrics push to " + options_.gateway + " works again");
    push_failing_ = !error.empty();
  }

  Options options_;
  const DaemonMetrics* metrics_;
  int listen_fd_ = -1;
  int stop_fd_ = -1;
  std::string gateway_host_, gateway_port_;
  bool push_failing_ = false;  // exporter thread only
  std::thread thread_;
};

MetricsExporter::MetricsExporter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MetricsExporter::~MetricsExporter() = default;

Status MetricsExporter::Start(const Options& options, const DaemonMetrics* metrics,
                              std::unique_ptr<MetricsExporter>* out) {
  auto impl = std::make_unique<Impl>(options, metrics);
  Status s = impl->Start();
  if (!s.ok()) return s;
  out->reset(new MetricsExporter(std::move(impl)));
  return Status::OK();
}

}  // namespace gkfs
