// main of a worker binary (ISOLATED_WORKER_MAIN, DESIGN §9).
#include "boot.hpp"

#include <isolated/worker.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

namespace isolated::detail {

void run_worker_binary(int argc, char** argv, WorkerMain fn) {
  set_binary_main(fn);
  run_worker_if_spawned(argc, argv);  // started by a host: runs the isolate, never returns

  // Started by hand: a root isolate of its own, which ends when `fn` returns.
  start_root_runtime();
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    fn(std::move(args), Message());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: uncaught exception: %s\n", argv[0], e.what());
    std::exit(70);
  }
  std::exit(0);
}

}  // namespace isolated::detail
