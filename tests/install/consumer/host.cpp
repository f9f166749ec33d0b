// A host: compute() in a worker of its own, and a function exported by a
// worker binary (its path is the first argument), run through a runner.
#include <isolated/isolated.hpp>

#include <cstdio>
#include <string>

int twice(int x) { return 2 * x; }

int main(int argc, char** argv) {
  isolated::init(argc, argv);
  if (argc != 2) {
    std::fprintf(stderr, "usage: host WORKER_BINARY\n");
    return 2;
  }
  const int doubled = isolated::compute(&twice, 21).get();
  isolated::IsolateRunner runner = isolated::IsolateRunner::spawn_uri(argv[1]);
  const std::string greeting = runner.run<std::string>("greet", std::string("host")).get();
  runner.close();
  std::printf("compute: %d, worker binary: %s\n", doubled, greeting.c_str());
  return doubled == 42 && greeting == "hello, host" ? 0 : 1;
}
