// A worker binary: one exported function; run by hand, it says what it is.
#include <isolated/worker.hpp>

#include <cstdio>
#include <string>
#include <vector>

std::string greet(std::string name) { return "hello, " + name; }
ISOLATED_EXPORT("greet", greet);

void started(std::vector<std::string>, isolated::Message) {
  std::printf("a worker binary: start it with IsolateRunner::spawn_uri\n");
}
ISOLATED_WORKER_MAIN(started)
