#include "rpc/repeatable.h"

namespace gkfs::rpc {

bool SafeToRepeat(Verb verb) {
  switch (verb) {
    case Verb::kFsConfig:
    case Verb::kHealth:
    case Verb::kPing:
    case Verb::kStat:            // an open's lookup (opener set) counts twice: a leaked count
    case Verb::kStatForRead:     // relatime: a second read sets the same atime rule again
    case Verb::kReadDir:
    case Verb::kReadChunks:
    case Verb::kWriteChunks:     // the same bytes at the same offsets (and the same grow_size)
    case Verb::kGrowSize:        // size = max(size, off+len)
    case Verb::kSetSize:
    case Verb::kSetAttr:         // given values; ctime becomes now again
    case Verb::kTruncateChunks:
    case Verb::kRemoveChunks:
    case Verb::kFwdRead:
    case Verb::kFwdStats:
    case Verb::kRenew:           // a second renewal of a session the first made known renews
      return true;
    default:  // Create*, Remove*, TouchDir, UntouchDir (moves a link count), Links, PutEntry,
              // ReserveAppend, Release, FwdWrite (append), FwdRename
      return false;
  }
}

}  // namespace gkfs::rpc
