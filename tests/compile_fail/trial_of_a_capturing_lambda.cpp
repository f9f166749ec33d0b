// Must NOT compile: run_isolated takes what compute takes, so a lambda with
// captures fails with isolated's message ("a capturing lambda cannot run in
// another isolate").
#include <isolated/testing.hpp>

int main() {
  int k = 1;
  const auto outcome = isolated::testing::run_isolated([k](int x) { return x + k; }, 1);
  return outcome.ending() == isolated::testing::Ending::returned ? 0 : 1;
}
