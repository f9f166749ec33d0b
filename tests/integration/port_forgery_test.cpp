// Any isolate of this user can write into any inbox it can name; a port's
// number is what keeps a message from reaching a port it was not given to.
// Port numbers are random, so guessing them fails.
#include <catch2/catch.hpp>

#include <isolated/isolated.hpp>

#include "support/deadlines.hpp"

#include <cstdint>
#include <tuple>

using namespace isolated;
using namespace isolated::test;
using namespace std::chrono_literals;

namespace {

// Sprays numbers 16..65535 (every port number a counter would have given
// out) of the inbox `known` names, then says it is done on `known` itself.
void spray(SendPort known) {
  for (std::uint64_t id = 16; id < 65536; ++id) {
    if (id != known.port_id()) SendPort(known.inbox_name(), id).send(std::string("forged"));
  }
  known.send(std::string("done"));
}

}  // namespace

TEST_CASE("a port receives nothing from an isolate that was not given it", "[ports]") {
  ReceivePort secret;  // never sent anywhere
  ReceivePort given;
  ReceivePort listened;
  std::string listened_got;
  listened.listen([&](Message message) { listened_got = message.as<std::string>(); });
  ReceivePort exits;
  SpawnOptions options;
  options.on_exit = exits.send_port();
  Isolate::spawn(&spray, given.send_port(), options);
  const auto done = given.receive_for(deadline_of(30s));
  REQUIRE(done);
  CHECK(done->as<std::string>() == "done");
  CHECK(exits.receive_for(deadline_of(10s)));
  CHECK_FALSE(secret.try_receive());
  CHECK_FALSE(given.try_receive());
  CHECK(listened_got.empty());
  CHECK(secret.send_port().port_id() != given.send_port().port_id() + 1);
  listened.close();
}
