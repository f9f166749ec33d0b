// `isolated-bench testing`: one trial (run_isolated) that segfaults and one
// that returns, against GoogleTest's EXPECT_DEATH in its fast and threadsafe
// styles measured in the same run (the peer program death_test_peer.cpp).
#pragma once

namespace isolated::bench {

int testing(bool quick);

}  // namespace isolated::bench
