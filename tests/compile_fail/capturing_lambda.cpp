// Must NOT compile: a lambda with captures cannot run in another isolate (its
// captures live in this process's memory). The build of this file is expected
// to fail with isolated's static_assert message, which says "a capturing
// lambda cannot run in another isolate" (API.md: the message contains
// "capture" or "capturing").
#include <isolated/isolated.hpp>

int main() {
  int k = 1;
  auto future = isolated::compute([k](int x) { return x + k; }, 1);
  return future.valid() ? 0 : 1;
}
