// Shared-memory segments and their names (DESIGN §11).
#include <catch2/catch.hpp>

#include "common/src/shm/names.hpp"
#include "common/src/shm/segment.hpp"

#include <isolated/error.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <regex>
#include <set>

using namespace isolated;
using namespace isolated::detail;

namespace {

bool exists_in_dev_shm(const std::string& name) {
  struct stat st {};
  return ::stat(("/dev/shm" + name).c_str(), &st) == 0;
}

}  // namespace

TEST_CASE("segment names have the session's form and are unguessable", "[unit][segment]") {
  const std::regex form(R"(/isolated\.(\d+)\.[0-9a-f]{16}\.(inbox|lane|oob|ttd))");
  std::set<std::string> seen;
  for (auto kind : {SegmentKind::inbox, SegmentKind::lane, SegmentKind::out_of_line,
                    SegmentKind::transferable}) {
    for (int i = 0; i < 100; ++i) {
      const std::string name = make_segment_name(kind);
      std::smatch match;
      REQUIRE(std::regex_match(name, match, form));
      CHECK(std::stoi(match[1]) == session_root_pid());
      CHECK(seen.insert(name).second);
      const auto parsed = parse_segment_name(name);
      REQUIRE(parsed);
      CHECK(parsed->kind == kind);
      CHECK(parsed->root_pid == session_root_pid());
    }
  }
}

TEST_CASE("names that are not of the session's form are refused", "[unit][segment]") {
  for (const char* bad : {"", "/", "isolated", "/isolated.1.0123456789abcdef",
                          "/isolated.0.0123456789abcdef.lane", "/isolated.-4.0123456789abcdef.lane",
                          "/isolated.12.0123456789ABCDEF.lane", "/isolated.12.0123456789abcde.lane",
                          "/isolated.12.0123456789abcdef.pipe", "/isolated.12.0123456789abcdef.lane/x",
                          "/../isolated.12.0123456789abcdef.lane", "/isolated.12x.0123456789abcdef.lane",
                          "/other.12.0123456789abcdef.lane",
                          "/isolated.1234567890123456789012345678901234567890.0123456789abcdef.lane"}) {
    INFO(bad);
    CHECK_FALSE(parse_segment_name(bad));
    CHECK_THROWS_AS(Segment::open(bad, SegmentKind::lane), Error);
  }
  CHECK(parse_segment_name("isolated.12.0123456789abcdef.lane"));
}

TEST_CASE("a created segment is private, zero-filled and unlinked by its creator", "[unit][segment]") {
  std::string name;
  {
    Segment segment = Segment::create(SegmentKind::out_of_line, 10000);
    name = segment.name();
    REQUIRE(segment.size() >= 10000);
    struct stat st {};
    REQUIRE(::stat(("/dev/shm" + name).c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(st.st_uid == ::getuid());
    for (std::size_t i = 0; i < segment.size(); ++i) REQUIRE(segment.data()[i] == std::byte{0});

    // A peer maps the same bytes.
    segment.data()[42] = std::byte{7};
    Segment peer = Segment::open(name, SegmentKind::out_of_line, 10000);
    CHECK(peer.data()[42] == std::byte{7});
    CHECK_FALSE(peer.data() == segment.data());
    CHECK(list_session_segments(session_root_pid()).size() >= 1);
  }
  CHECK_FALSE(exists_in_dev_shm(name));
}

TEST_CASE("opening checks the kind and the size", "[unit][segment]") {
  Segment segment = Segment::create(SegmentKind::lane, 4096);
  CHECK_THROWS_WITH(Segment::open(segment.name(), SegmentKind::inbox),
                    Catch::Contains("expected a segment of kind inbox"));
  CHECK_THROWS_WITH(Segment::open(segment.name(), SegmentKind::lane, 1 << 20),
                    Catch::Contains("smaller than"));
  CHECK_THROWS_WITH(Segment::open(make_segment_name(SegmentKind::lane), SegmentKind::lane),
                    Catch::Contains("cannot open"));
}

TEST_CASE("a released name outlives its creator until the peer unlinks it", "[unit][segment]") {
  std::string name;
  {
    Segment segment = Segment::create(SegmentKind::transferable, 64);
    name = segment.name();
    segment.release_name();
  }
  REQUIRE(exists_in_dev_shm(name));
  Segment peer = Segment::open(name, SegmentKind::transferable);
  peer.unlink();
  peer.unlink();  // idempotent
  CHECK_FALSE(exists_in_dev_shm(name));
  // The mapping survives the unlink.
  peer.data()[0] = std::byte{1};
  CHECK(peer.data()[0] == std::byte{1});
}

TEST_CASE("a session's leftover segments can be listed and removed", "[unit][segment]") {
  Segment a = Segment::create(SegmentKind::lane, 64);
  Segment b = Segment::create(SegmentKind::inbox, 64);
  a.release_name();
  b.release_name();
  const auto names = list_session_segments(session_root_pid());
  CHECK(std::count(names.begin(), names.end(), a.name()) == 1);
  CHECK(std::count(names.begin(), names.end(), b.name()) == 1);
  CHECK(unlink_session_segments(session_root_pid()) >= 2);
  CHECK_FALSE(exists_in_dev_shm(a.name()));
  CHECK_FALSE(exists_in_dev_shm(b.name()));
}
