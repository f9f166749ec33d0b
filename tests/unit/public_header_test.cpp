// What a user's translation unit gets from <isolated/isolated.hpp>: the whole
// public API and msgpack, but no Boost header (isolated::common defines
// MSGPACK_NO_BOOST for its users; without it msgpack-cxx pulls in some 870
// Boost headers). Every Boost header includes boost/config.hpp, so its guard
// tells. This file includes nothing else before the check.
#include <isolated/isolated.hpp>

#if defined(BOOST_CONFIG_HPP) || defined(BOOST_VERSION)
#error "<isolated/isolated.hpp> includes a Boost header: is MSGPACK_NO_BOOST defined?"
#endif

#include <catch2/catch.hpp>

#include <string>

namespace {

struct Point {
  int x = 0;
  std::string label;
  MSGPACK_DEFINE(x, label)
};

}  // namespace

TEST_CASE("the public header gives msgpack adaptors without Boost", "[unit]") {  std::vector<std::byte> bytes;
  isolated::detail::encode(Point{3, "three"}, bytes);
  const auto point = isolated::Message::decode(bytes).as<Point>();
  CHECK(point.x == 3);
  CHECK(point.label == "three");
}
