// Which verbs a client may send twice. After a daemon restart, a request can be lost with
// the old connection after the old daemon executed it; the transport sends it again on a
// fresh connection only if a second execution leaves the same state and gives the same
// reply as one (ClientTransport, the resend rule). Reads qualify, and so do writes of given
// bytes at a given place and sets of given values (as writes, a repeat may undo a concurrent
// client's change made in between: gkfs orders no concurrent updates anyway). Creating,
// removing, renaming, reserving an append range, touching a directory (its reply is the
// record as it was) and storing a record under a new name (its reply says what it replaced)
// do not: their second execution answers differently. A verb not listed is not repeated.
#pragma once

#include "rpc/schema.h"

namespace gkfs::rpc {

bool SafeToRepeat(Verb verb);

}  // namespace gkfs::rpc
