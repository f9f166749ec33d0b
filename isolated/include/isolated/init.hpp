// isolated::init: the first thing in main of every program that uses
// isolates (DESIGN §2), like MPI_Init or Python's multiprocessing main guard.
#pragma once

namespace isolated {

// In the root isolate: starts the runtime (inbox, launcher, supervisor) and
// returns. In a worker process started by Isolate::spawn, it runs the isolate
// and ends the process: it never returns.
void init(int argc, char** argv);

}  // namespace isolated
