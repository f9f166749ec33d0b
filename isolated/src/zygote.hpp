// The zygote (DESIGN §2, "The zygote"): a single-threaded helper process, this
// program run again with kZygoteFlag, from which the spawning process's
// workers are forked instead of exec'd. It forks one spare at a time on its
// spawner's request (zygote_process.cpp); the spare waits for its boot record
// (zygote_spare.cpp). The spawner's side is zygote_client.hpp.
#pragma once

namespace isolated::detail {

// If this process was started as a zygote (argv[1] is kZygoteFlag), serves
// its spawner until the spawner closes the socket or dies, and ends the
// process; otherwise returns. isolated::init calls it before anything else.
void run_zygote_if_asked(int argc, char** argv);

}  // namespace isolated::detail
