// isolated::init: a worker runs its isolate; a root starts its runtime and
// arranges that its session's segments go when it does (DESIGN §2, §11).
#include "spawn.hpp"
#include "supervisor.hpp"
#include "zygote.hpp"
#include "worker/src/boot.hpp"

#include <isolated/init.hpp>

namespace isolated {

void init(int argc, char** argv) {
  // Workers of this program spawn too (nested isolates); those forked by the
  // zygote inherit this.
  detail::install_spawning();
  // A zygote serves its spawner and never comes back; nor does a worker.
  detail::run_zygote_if_asked(argc, argv);
  detail::run_worker_if_spawned(argc, argv);

  detail::start_root_runtime();
  detail::Supervisor::attach_to_runtime();
}

}  // namespace isolated
