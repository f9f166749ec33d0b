// A program that links isolated but forgets isolated::init. Spawning must fail
// at once with a message that says what to do, and main must run only once:
// it prints "main ran" each time it runs.
#include <isolated/isolated.hpp>

#include <cstdio>
#include <string>

namespace {
void entry(int) {}
}  // namespace

int main() {
  std::printf("main ran\n");
  std::fflush(stdout);
  try {
    isolated::Isolate::spawn(&entry, 1);
    std::printf("spawn did not fail\n");
    return 1;
  } catch (const isolated::IsolateSpawnError& e) {
    std::printf("IsolateSpawnError: %s\n", e.what());
    return std::string(e.what()).find("isolated::init(argc, argv)") != std::string::npos ? 0 : 2;
  }
}
