#include "daemon/handlers.h"

namespace gkfs {

void HandleRequest(Providers& p, const Request& req, Response* out) {
  using Handler = void (*)(Providers&, const Request&, Response*);
  static const Handler kHandlers[] = {
#define GKFS_HANDLER_ENTRY(name) &Handle##name,
      GKFS_RPC_VERBS(GKFS_HANDLER_ENTRY)
#undef GKFS_HANDLER_ENTRY
  };
  kHandlers[static_cast<size_t>(req.verb)](p, req, out);
}

}  // namespace gkfs
