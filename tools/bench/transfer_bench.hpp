// `isolated-bench transfer`: a block of bytes to another isolate, as a
// TransferableTypedData and as an ordinary (copied) message, timed until the
// receiver holds a readable view; the peers are measured beside it.
#pragma once

namespace isolated::bench {

int transfer(bool quick);

}  // namespace isolated::bench
