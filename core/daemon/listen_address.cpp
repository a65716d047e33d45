#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <string>

#include "gkfs/status.h"

namespace gkfs {
// Resolves -l/--listen: an IPv4 address is used as given; an interface name becomes the
// interface's first IPv4 address. EINVAL names the value when neither works.
Status ResolveListen(const std::string& listen, std::string* address) {
  struct in_addr probe;
  if (inet_pton(AF_INET, listen.c_str(), &probe) == 1) {
    *address = listen;
    return Status::OK();
  }
  struct ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return Status::Error(errno, "getifaddrs failed");
  Status result = Status::Error(EINVAL, "-l/--listen '" + listen + "' is neither an IPv4 address nor an interface with one");
  for (auto* ifa = list; ifa != nullptr; ifa = ifa->ifa_next) {
    if (ifa->ifa_addr == nullptr || ifa->ifa_addr->sa_family != AF_INET || listen != ifa->ifa_name) continue;
    char text[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &reinterpret_cast<struct sockaddr_in*>(ifa->ifa_addr)->sin_addr, text, sizeof(text));
    *address = text;
    result = Status::OK();
    break;
  }
  freeifaddrs(list);
  return result;
}

}  // namespace gkfs
