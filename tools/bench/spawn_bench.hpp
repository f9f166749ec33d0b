// `isolated-bench spawn`: what starting an isolate costs, against
// posix_spawn + wait of a trivial C++ program measured in the same run:
// compute() and Isolate::spawn (with the zygote, and exec'd), fork from a
// small and a 1 GiB host and our spawn from both, 1,000 isolates heard from,
// and the memory of an idle isolate.
//
// The measuring thread runs on CPU 0. posix_spawn's and fork's children
// inherit that CPU (their parent waits, so they are serial either way).
// Isolates run where the scheduler puts them, as a program's would: pinned to
// one CPU (`pin_children`: the zygote, and so every worker, on CPU 1), the
// zygote's fork, a worker's start and the last worker's end share one CPU,
// which makes one spawn at a time cheaper (no migration) and spawns in a row
// dearer (compute in a loop, 1,000 isolates).
#pragma once

namespace isolated::bench {

int spawn(bool quick, bool pin_children);

}  // namespace isolated::bench
