// Built instead of the forwarding provider when ENABLE_FORWARDING is OFF.
#include "daemon/forwarding/forwarding.h"

namespace gkfs {

Status ForwardingProvider::Create(const DaemonOptions&, transport::Server*,
                                  std::unique_ptr<ForwardingProvider>*) {
  return Status::Error(ENOTSUP, "this build of gkfs lacks forwarding mode (built with ENABLE_FORWARDING=OFF)");
}

Status ForwardingProvider::CreateDirect(const std::string&, std::unique_ptr<ForwardingProvider>*) {
  return Status::Error(ENOTSUP, "this build of gkfs lacks forwarding mode (built with ENABLE_FORWARDING=OFF)");
}

}  // namespace gkfs
