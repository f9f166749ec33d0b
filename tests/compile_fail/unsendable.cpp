// Must NOT compile: a container of something that is not sendable. The build
// of this file is expected to fail with isolated's static_assert message
// ("cannot be sent") and to name the culprit (cannot_send<std::thread>).
#include <isolated/message.hpp>

#include <cstddef>
#include <thread>
#include <vector>

int main() {
  std::vector<std::byte> out;
  isolated::detail::encode(std::vector<std::thread>{}, out);
}
