// The isolated side of `isolated-bench transport`: the same round trip and
// one-way stream as the peers (peers.hpp), through an inbox and its lanes.
#pragma once

#include "peers.hpp"
#include "stats.hpp"

namespace isolated::bench {

// Parent and child each own an inbox; a 64-byte message goes to the child's
// port and comes back to the parent's. One sample per round trip.
Summary isolated_round_trip(const PeerConfig&);

// The parent sends stream_messages messages to the child's inbox; the child
// counts them and their bytes and reports back. Messages per second, timed
// from the first send to the report; throws if a byte went missing.
double isolated_stream(const PeerConfig&);

}  // namespace isolated::bench
