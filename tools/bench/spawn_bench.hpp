// `isolated-bench spawn`: what starting an isolate costs, against
// posix_spawn + wait of a trivial C++ program measured in the same run:
// compute() and Isolate::spawn (with the zygote, and exec'd), fork from a
// small and a 1 GiB host and our spawn from both, 1,000 isolates heard from,
// and the memory of an idle isolate.
#pragma once

namespace isolated::bench {

int spawn(bool quick);

}  // namespace isolated::bench
