// `isolated-bench pool`: tiny tasks through a LoadBalancer of 2 runners and
// compute() of a trivial function, against Python's process pools measured
// in the same run.
#pragma once

namespace isolated::bench {

int pool(bool quick);

}  // namespace isolated::bench
