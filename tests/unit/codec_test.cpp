// The msgpack codec on its own: what is sendable, round trips of every
// sendable type, reading a Message as a type, and decoding untrusted bytes.
#include <catch2/catch.hpp>

#include <isolated/capability.hpp>
#include <isolated/error.hpp>
#include <isolated/message.hpp>
#include <isolated/send_port.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <vector>

using namespace isolated;
using isolated::detail::TransferableRef;

namespace {

struct Job {
  std::string name;
  std::vector<int> values;
  SendPort reply;
  Capability token;
  std::optional<TransferableRef> block;
  MSGPACK_DEFINE(name, values, reply, token, block)
  friend bool operator==(const Job&, const Job&) = default;
};

struct Point {
  double x = 0;
  double y = 0;
  MSGPACK_DEFINE_MAP(x, y)
  friend bool operator==(const Point&, const Point&) = default;
};

struct Envelope {
  std::uint64_t id = 0;
  Message payload;
  MSGPACK_DEFINE(id, payload)
};

enum class Color { red, green };

std::vector<std::byte> encoded(const auto& value) {
  std::vector<std::byte> out;
  detail::encode(value, out);
  return out;
}

Message message_of(const auto& value) {
  return Message::decode(encoded(value));
}

template <class T>
T round_trip(const T& value) {
  return message_of(value).template as<T>();
}

std::vector<std::byte> bytes_of(std::initializer_list<int> values) {
  std::vector<std::byte> out;
  for (const int v : values) out.push_back(static_cast<std::byte>(v));
  return out;
}

// An ext with a raw payload, as a hostile sender could write it.
std::vector<std::byte> raw_ext(std::int8_t type, std::string_view payload) {
  const auto size = static_cast<int>(payload.size());
  std::vector<std::byte> out = bytes_of({0xc8, size >> 8, size & 0xff, type});  // ext 16
  for (const char c : payload) out.push_back(static_cast<std::byte>(c));
  return out;
}

std::string id_and(std::string_view name) {
  return std::string(8, '\0') + std::string(name);
}

bool same_bytes(std::span<const std::byte> a, std::span<const std::byte> b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

}  // namespace

// ---- what is sendable (compile-time) ----

static_assert(Sendable<std::nullptr_t> && Sendable<msgpack::type::nil_t>);
static_assert(Sendable<bool> && Sendable<char> && Sendable<std::int8_t> && Sendable<std::uint64_t>);
static_assert(Sendable<float> && Sendable<double> && !Sendable<long double>);
static_assert(Sendable<std::string> && Sendable<std::string_view> && Sendable<const char*>);
static_assert(Sendable<decltype("literal")>);
static_assert(Sendable<std::vector<std::uint8_t>> && Sendable<std::vector<std::byte>>);
static_assert(Sendable<std::span<const std::byte>> && Sendable<std::span<std::uint8_t>>);
static_assert(Sendable<std::vector<std::map<std::string, std::tuple<int, std::optional<double>>>>>);
static_assert(Sendable<std::unordered_map<int, std::pair<std::string, bool>>>);
static_assert(Sendable<std::tuple<const int&, const std::string&>>);  // std::tie
static_assert(Sendable<SendPort> && Sendable<Capability> && Sendable<TransferableRef>);
static_assert(Sendable<Message> && Sendable<std::vector<Message>>);
static_assert(Sendable<Job> && Sendable<const Job&> && Sendable<Point> && Sendable<Envelope>);

static_assert(!Sendable<std::thread> && !Sendable<std::vector<std::thread>>);
static_assert(!Sendable<std::map<int, std::mutex*>> && !Sendable<std::optional<std::thread>>);
static_assert(!Sendable<std::tuple<int, std::thread>> && !Sendable<std::pair<std::thread, int>>);
static_assert(!Sendable<int*> && !Sendable<std::list<int>> && !Sendable<Color>);
static_assert(!Sendable<wchar_t> && !Sendable<char32_t> && !Sendable<std::wstring>);

// The diagnostic names the part that spoils a type.
static_assert(
    std::is_same_v<
        detail::value_traits<std::vector<std::map<int, std::tuple<int, std::thread>>>>::culprit,
        std::thread>);
static_assert(std::is_void_v<detail::value_traits<std::vector<int>>::culprit>);

static_assert(detail::Receivable<std::string_view> && detail::Receivable<Job>);
static_assert(!detail::Receivable<const char*> && !detail::Receivable<std::span<std::byte>>);
static_assert(!detail::Receivable<std::tuple<const int&>> && !detail::Receivable<const int>);

// ---- round trips ----

TEST_CASE("scalars round-trip", "[unit][codec]") {
  CHECK(round_trip(nullptr) == nullptr);
  CHECK(message_of(msgpack::type::nil_t{}).kind() == MessageKind::nil);
  CHECK(round_trip(true) == true);
  CHECK(round_trip(false) == false);
  CHECK(round_trip('x') == 'x');
  CHECK(round_trip(std::numeric_limits<std::int8_t>::min()) == -128);
  CHECK(round_trip(std::numeric_limits<std::uint8_t>::max()) == 255);
  CHECK(round_trip(std::numeric_limits<std::int16_t>::min()) ==
        std::numeric_limits<std::int16_t>::min());
  CHECK(round_trip(std::numeric_limits<std::int32_t>::min()) ==
        std::numeric_limits<std::int32_t>::min());
  CHECK(round_trip(std::numeric_limits<std::int64_t>::min()) ==
        std::numeric_limits<std::int64_t>::min());
  CHECK(round_trip(std::numeric_limits<std::int64_t>::max()) ==
        std::numeric_limits<std::int64_t>::max());
  CHECK(round_trip(std::numeric_limits<std::uint64_t>::max()) ==
        std::numeric_limits<std::uint64_t>::max());
  CHECK(round_trip(0) == 0);
  CHECK(round_trip(-1) == -1);
  CHECK(round_trip(1.5f) == 1.5f);
  CHECK(round_trip(-0.1) == -0.1);
  CHECK(round_trip(std::numeric_limits<double>::infinity()) ==
        std::numeric_limits<double>::infinity());
  CHECK(std::isnan(round_trip(std::numeric_limits<double>::quiet_NaN())));
  CHECK(std::signbit(round_trip(-0.0)));
  CHECK(round_trip(18446744073709551616.0) == 18446744073709551616.0);  // 2^64
  // A float that holds a whole number stays a float.
  CHECK(message_of(2.0).kind() == MessageKind::floating);
  CHECK(message_of(2.0f).kind() == MessageKind::floating);
  CHECK_FALSE(message_of(2.0).is<int>());
}

TEST_CASE("strings and bytes round-trip and stay apart", "[unit][codec]") {
  CHECK(round_trip(std::string()).empty());
  CHECK(round_trip(std::string("h\0llo", 5)) == std::string("h\0llo", 5));
  CHECK(round_trip(std::string("grüße, 世界")) == "grüße, 世界");
  const std::string long_text(100'000, 'z');
  CHECK(round_trip(long_text) == long_text);

  CHECK(message_of("literal").as<std::string>() == "literal");
  const char* pointer = "pointer";
  CHECK(message_of(pointer).as<std::string>() == "pointer");
  CHECK(message_of(std::string_view("view")).as<std::string>() == "view");

  const Message text = message_of(std::string("viewed"));
  CHECK(text.as<std::string_view>() == "viewed");

  const std::vector<std::uint8_t> bytes{0, 1, 2, 255};
  CHECK(round_trip(bytes) == bytes);
  CHECK(round_trip(std::vector<std::uint8_t>{}).empty());
  const std::vector<std::byte> raw = bytes_of({9, 8, 7});
  CHECK(round_trip(raw) == raw);
  CHECK(message_of(std::span<const std::uint8_t>(bytes)).as<std::vector<std::uint8_t>>() == bytes);
  const Message blob = message_of(bytes);
  const auto view = blob.as<std::span<const std::byte>>();
  CHECK(view.size() == 4);
  CHECK(std::to_integer<int>(view[3]) == 255);

  CHECK(blob.kind() == MessageKind::binary);
  CHECK(text.kind() == MessageKind::string);
  CHECK_FALSE(blob.is<std::string>());
  CHECK_FALSE(text.is<std::vector<std::uint8_t>>());
  CHECK_THROWS_AS(blob.as<std::string>(), MessageTypeError);
}

TEST_CASE("containers round-trip", "[unit][codec]") {
  const std::vector<int> numbers{1, -2, 3};
  CHECK(round_trip(numbers) == numbers);
  CHECK(round_trip(std::vector<std::string>{}).empty());
  CHECK(round_trip(std::vector<bool>{true, false}) == std::vector<bool>{true, false});

  const std::map<std::string, int> ordered{{"a", 1}, {"b", 2}};
  CHECK(round_trip(ordered) == ordered);
  const std::unordered_map<int, std::string> hashed{{1, "one"}, {2, "two"}};
  CHECK(round_trip(hashed) == hashed);

  CHECK(round_trip(std::optional<int>()) == std::nullopt);
  CHECK(round_trip(std::optional<int>(4)) == 4);
  const auto tuple = std::make_tuple(1, std::string("two"), 3.0, false);
  CHECK(round_trip(tuple) == tuple);
  CHECK(round_trip(std::tuple<>()) == std::tuple<>());
  const auto pair = std::make_pair(std::string("k"), std::vector<int>{7});
  CHECK(round_trip(pair) == pair);

  const int a = 5;
  const std::string b = "tied";
  CHECK((message_of(std::tie(a, b)).as<std::tuple<int, std::string>>() == std::make_tuple(5, b)));
}

TEST_CASE("deeply nested values round-trip", "[unit][codec]") {
  using Leaf = std::tuple<std::optional<int>, std::vector<std::optional<std::string>>,
                          std::pair<SendPort, Capability>>;
  using Deep = std::vector<std::map<std::string, std::vector<std::unordered_map<int, Leaf>>>>;
  const Capability cap;
  Deep deep;
  for (int i = 0; i < 5; ++i) {
    std::map<std::string, std::vector<std::unordered_map<int, Leaf>>> level;
    for (int j = 0; j < 3; ++j) {
      std::unordered_map<int, Leaf> leaves;
      leaves[j] = Leaf{j % 2 ? std::optional<int>(j) : std::nullopt,
                       {std::nullopt, std::string(static_cast<std::size_t>(i), 'q')},
                       {SendPort("/isolated.1.ab.inbox", static_cast<std::uint64_t>(i)), cap}};
      std::string key = "k";  // not "k" + ...: GCC 12's -Wrestrict false positive
      key += std::to_string(j);
      level[key].push_back(leaves);
    }
    deep.push_back(level);
  }
  const Message message = message_of(deep);
  CHECK(message.is<Deep>());
  CHECK(message.as<Deep>() == deep);
  CHECK(message.kind() == MessageKind::array);
}

TEST_CASE("SendPort, Capability and the transferable ref round-trip", "[unit][codec]") {
  const SendPort port("/isolated.42.0123456789abcdef.inbox", 3);
  CHECK(round_trip(port) == port);
  CHECK(round_trip(SendPort()) == SendPort());
  CHECK_FALSE(round_trip(SendPort()).valid());
  const SendPort max_id("/x", std::numeric_limits<std::uint64_t>::max());
  CHECK(round_trip(max_id).port_id() == std::numeric_limits<std::uint64_t>::max());

  const Capability capability;
  CHECK(round_trip(capability) == capability);
  CHECK(message_of(capability).kind() == MessageKind::capability);
  CHECK(round_trip(std::vector<Capability>{capability, capability}) ==
        std::vector<Capability>{capability, capability});
  CHECK(round_trip(std::optional<Capability>(capability)) == capability);

  const TransferableRef ref{"/isolated.42.0123456789abcdef.ttd", 1u << 20};
  CHECK(round_trip(ref) == ref);
  CHECK(message_of(ref).kind() == MessageKind::transferable);
  CHECK(message_of(port).kind() == MessageKind::send_port);
}

TEST_CASE("user structs with MSGPACK_DEFINE round-trip, ports and capabilities inside",
          "[unit][codec]") {
  const Job job{"resize",
                {1, 2, 3},
                SendPort("/isolated.7.ff.inbox", 9),
                Capability(),
                TransferableRef{"/isolated.7.ee.ttd", 64}};
  const Message message = message_of(job);
  CHECK(message.is<Job>());
  CHECK(message.as<Job>() == job);
  CHECK(message.as<Job>().token == job.token);
  CHECK_FALSE(message.is<Point>());

  const Point point{1.5, -2};
  const Message map_message = message_of(point);
  CHECK(map_message.kind() == MessageKind::map);
  CHECK(map_message.as<Point>() == point);
  CHECK(map_message.as<std::map<std::string, double>>() ==
        std::map<std::string, double>{{"x", 1.5}, {"y", -2}});

  CHECK(round_trip(std::vector<Job>{job, job}) == std::vector<Job>{job, job});
}

TEST_CASE("Capabilities are unique and survive a round trip", "[unit][codec]") {
  std::unordered_set<Capability> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(Capability());
  CHECK(seen.size() == 1000);

  const Capability original;
  const Capability copy = original;
  CHECK(copy == original);
  CHECK_FALSE(Capability() == original);
  CHECK(Capability::from_bytes(original.bytes()) == original);
  CHECK(std::hash<Capability>{}(round_trip(original)) == std::hash<Capability>{}(original));
}

TEST_CASE("SendPort is a value with equality and hash", "[unit][codec]") {
  const SendPort a("/isolated.1.aa.inbox", 1);
  CHECK(a.valid());
  CHECK(a.inbox_name() == "/isolated.1.aa.inbox");
  CHECK(a.port_id() == 1);
  CHECK(a == SendPort("/isolated.1.aa.inbox", 1));
  CHECK_FALSE(a == SendPort("/isolated.1.aa.inbox", 2));
  CHECK_FALSE(SendPort().valid());
  std::unordered_set<SendPort> ports{a, SendPort("/isolated.1.aa.inbox", 2), a};
  CHECK(ports.size() == 2);
  CHECK_THROWS_AS(SendPort(std::string(256, 'n'), 1), Error);
  CHECK_THROWS_AS(SendPort(std::string("a\0b", 3), 1), Error);
}

// ---- Message as a value ----

TEST_CASE("a received Message is forwarded unchanged", "[unit][codec]") {
  const Message original = message_of(std::make_tuple(1, std::string("x"), SendPort("/p", 2)));
  CHECK(same_bytes(encoded(original), original.bytes()));

  const Message forwarded = Message::decode(encoded(original));
  CHECK(same_bytes(forwarded.bytes(), original.bytes()));
  CHECK(forwarded.as<Message>().to_string() == original.to_string());

  // Inside other values too.
  const Message wrapped = message_of(Envelope{77, original});
  const auto envelope = wrapped.as<Envelope>();
  CHECK(envelope.id == 77);
  CHECK(same_bytes(envelope.payload.bytes(), original.bytes()));
  CHECK(envelope.payload.to_string() == original.to_string());

  const auto list =
      message_of(std::vector<Message>{original, Message()}).as<std::vector<Message>>();
  REQUIRE(list.size() == 2);
  CHECK(same_bytes(list[0].bytes(), original.bytes()));
  CHECK(list[1].kind() == MessageKind::nil);
}

TEST_CASE("default, copied and moved Messages", "[unit][codec]") {
  const Message nil;
  CHECK(nil.kind() == MessageKind::nil);
  CHECK(nil.is<std::nullptr_t>());
  CHECK(nil.to_string() == "nil");
  CHECK(same_bytes(nil.bytes(), bytes_of({0xc0})));

  Message text = message_of(std::string("kept"));
  const Message copy = text;
  Message moved = std::move(text);
  CHECK(moved.as<std::string>() == "kept");
  CHECK(copy.as<std::string>() == "kept");
  CHECK(text.kind() == MessageKind::nil);  // NOLINT(bugprone-use-after-move): documented state
  text = std::move(moved);
  CHECK(text.as<std::string>() == "kept");
}

TEST_CASE("decode refers to a kept-alive buffer instead of copying it", "[unit][codec]") {
  auto buffer = std::make_shared<std::vector<std::byte>>(encoded(std::string("shared")));
  const Message referring = Message::decode(*buffer, buffer);
  CHECK(referring.bytes().data() == buffer->data());
  CHECK(buffer.use_count() == 2);

  const Message copying = Message::decode(*buffer);
  CHECK(copying.bytes().data() != buffer->data());
  buffer.reset();
  CHECK(referring.as<std::string>() == "shared");
  CHECK(copying.as<std::string>() == "shared");
}

TEST_CASE("kind() names what a message holds", "[unit][codec]") {
  CHECK(message_of(nullptr).kind() == MessageKind::nil);
  CHECK(message_of(true).kind() == MessageKind::boolean);
  CHECK(message_of(-5).kind() == MessageKind::integer);
  CHECK(message_of(5u).kind() == MessageKind::integer);
  CHECK(message_of(2.5f).kind() == MessageKind::floating);
  CHECK(message_of(2.5).kind() == MessageKind::floating);
  CHECK(message_of("s").kind() == MessageKind::string);
  CHECK(message_of(std::vector<std::uint8_t>{1}).kind() == MessageKind::binary);
  CHECK(message_of(std::vector<int>{1}).kind() == MessageKind::array);
  CHECK(message_of(std::map<int, int>{}).kind() == MessageKind::map);
  CHECK(message_of(SendPort("/p", 1)).kind() == MessageKind::send_port);
  CHECK(message_of(Capability()).kind() == MessageKind::capability);
  CHECK(message_of(TransferableRef{"/t", 1}).kind() == MessageKind::transferable);
  CHECK(to_string(MessageKind::array) == "list");
  CHECK(to_string(MessageKind::transferable) == "TransferableTypedData");
}

TEST_CASE("to_string() renders JSON-like text", "[unit][codec]") {
  std::map<std::string, bool> flags{{"k", true}};
  CHECK(
      message_of(std::make_tuple(1, "a", flags, SendPort("/isolated.1.ab.inbox", 3))).to_string() ==
      R"([1, "a", {"k": true}, SendPort(/isolated.1.ab.inbox#3)])");
  CHECK(message_of(std::make_tuple(nullptr, -7, 1.0, 0.1f, false)).to_string() ==
        "[nil, -7, 1.0, 0.1, false]");
  CHECK(message_of(std::string("q\"\\\n\x01")).to_string() == R"("q\"\\\n\u0001")");
  CHECK(message_of(std::vector<std::uint8_t>{0, 171, 255}).to_string() == "bytes[00 ab ff]");
  CHECK_THAT(message_of(std::vector<std::uint8_t>(100, 1)).to_string(),
             Catch::Contains("... (100 bytes)"));
  CHECK(message_of(SendPort()).to_string() == "SendPort(invalid)");
  CHECK(message_of(TransferableRef{"/isolated.1.ab.ttd", 4096}).to_string() ==
        "TransferableTypedData(/isolated.1.ab.ttd, 4096 bytes)");
  CHECK_THAT(message_of(Capability()).to_string(), Catch::StartsWith("Capability("));
  CHECK(message_of(std::map<int, std::vector<int>>{{1, {}}}).to_string() == "{1: []}");
}

// ---- reading as a type ----

TEST_CASE("is<T>() agrees with as<T>()", "[unit][codec]") {
  const Message number = message_of(300);
  CHECK(number.is<int>());
  CHECK(number.is<std::uint16_t>());
  CHECK_FALSE(number.is<std::uint8_t>());
  CHECK_FALSE(number.is<std::int8_t>());
  CHECK(number.is<double>());  // integers read as floating point, as in C++
  CHECK(number.as<double>() == 300.0);
  CHECK_FALSE(number.is<bool>());
  CHECK_FALSE(number.is<std::string>());
  CHECK(number.is<Message>());

  const Message negative = message_of(-1);
  CHECK(negative.is<std::int8_t>());
  CHECK_FALSE(negative.is<unsigned>());
  CHECK_THROWS_AS(negative.as<unsigned>(), MessageTypeError);

  const Message real = message_of(2.5);
  CHECK(real.is<float>());
  CHECK_FALSE(real.is<int>());

  const Message tuple = message_of(std::make_tuple(1, std::string("a")));
  CHECK((tuple.is<std::tuple<int, std::string>>()));
  CHECK((tuple.is<std::pair<int, std::string>>()));
  CHECK((tuple.is<std::vector<Message>>()));
  CHECK_FALSE((tuple.is<std::tuple<int, std::string, int>>()));
  CHECK_FALSE((tuple.is<std::tuple<int>>()));
  CHECK_FALSE((tuple.is<std::tuple<std::string, int>>()));
  CHECK_FALSE(tuple.is<std::vector<int>>());
  CHECK_THROWS_AS((tuple.as<std::tuple<int>>()), MessageTypeError);

  const Message maybe = message_of(std::optional<std::string>());
  CHECK(maybe.is<std::optional<std::string>>());
  CHECK(maybe.is<std::optional<int>>());
  CHECK(maybe.is<std::nullptr_t>());
  CHECK_FALSE(maybe.is<std::string>());

  const Message port = message_of(SendPort("/p", 1));
  CHECK(port.is<SendPort>());
  CHECK_FALSE(port.is<Capability>());
  CHECK_FALSE(port.is<TransferableRef>());
  CHECK_THROWS_AS(port.as<Capability>(), MessageTypeError);
}

TEST_CASE("MessageTypeError names the type asked for and the one found", "[unit][codec]") {
  CHECK_THROWS_WITH(message_of(5).as<std::string>(), "message holds int, not string");
  CHECK_THROWS_WITH(message_of("x").as<int>(), "message holds string, not int");
  CHECK_THROWS_WITH(message_of(nullptr).as<bool>(), "message holds nil, not bool");
  CHECK_THROWS_WITH(message_of(std::vector<int>{1, 2}).as<std::vector<std::string>>(),
                    "message holds list<int>, not list<string>");
  CHECK_THROWS_WITH((message_of(std::make_tuple(1, "a", true)).as<std::map<std::string, int>>()),
                    "message holds list<int | string | bool>, not map<string, int>");
  CHECK_THROWS_WITH(
      (message_of(std::map<std::string, int>{{"a", 1}}).as<std::tuple<int, double>>()),
      "message holds map<string, int>, not tuple<int, float>");
  CHECK_THROWS_WITH(message_of(std::vector<std::uint8_t>{1}).as<std::optional<std::string>>(),
                    "message holds bytes, not optional<string>");
  CHECK_THROWS_WITH(message_of(Capability()).as<SendPort>(),
                    "message holds Capability, not SendPort");
  CHECK_THROWS_WITH(message_of(1.5).as<TransferableRef>(),
                    "message holds float, not TransferableTypedData");
  CHECK_THROWS_WITH(message_of(300).as<std::uint8_t>(),
                    Catch::Contains("int 300") && Catch::Contains("does not fit in unsigned char"));
  // A struct whose fields do not match: conversion fails inside msgpack.
  CHECK_THROWS_WITH(message_of(std::make_tuple(1, 2)).as<Job>(),
                    Catch::Contains("message holds list<int>, not") && Catch::Contains("Job"));
  CHECK_THROWS_AS(message_of(std::make_tuple(1, 2)).as<Job>(), MessageTypeError);
}

// ---- untrusted bytes ----

TEST_CASE("garbage and truncated bytes are rejected with isolated::Error", "[unit][codec]") {
  CHECK_THROWS_WITH(Message::decode({}), Catch::Contains("empty"));
  CHECK_THROWS_WITH(Message::decode(bytes_of({0xc1})), Catch::Contains("invalid msgpack"));
  CHECK_THROWS_WITH(Message::decode(bytes_of({0x01, 0x02})), Catch::Contains("1 bytes follow"));
  CHECK_THROWS_WITH(Message::decode(bytes_of({0xa5, 'a', 'b'})), Catch::Contains("truncated"));
  CHECK_THROWS_WITH(Message::decode(bytes_of({0x92, 0xa3, 'a'})), Catch::Contains("truncated"));

  // Every proper prefix of a valid message is truncated.
  const auto valid = encoded(std::make_tuple(std::string("text"), std::vector<int>{1, 300, -70000},
                                             std::map<std::string, double>{{"pi", 3.14}},
                                             SendPort("/isolated.1.ab.inbox", 5), Capability()));
  REQUIRE_NOTHROW(Message::decode(valid));
  for (std::size_t n = 1; n < valid.size(); ++n) {
    CHECK_THROWS_AS(Message::decode(std::span(valid).first(n)), Error);
  }
}

TEST_CASE("a small message cannot claim a huge allocation", "[unit][codec]") {
  // 2^32-1 elements claimed by 5 bytes: rejected before anything is allocated.
  CHECK_THROWS_WITH(Message::decode(bytes_of({0xdd, 0xff, 0xff, 0xff, 0xff})),
                    Catch::Contains("claims 4294967295 elements"));
  CHECK_THROWS_WITH(Message::decode(bytes_of({0xdf, 0xff, 0xff, 0xff, 0xff})),
                    Catch::Contains("a map claims"));
  CHECK_THROWS_AS(Message::decode(bytes_of({0xdb, 0xff, 0xff, 0xff, 0xff})), Error);  // str 32
  CHECK_THROWS_AS(Message::decode(bytes_of({0xc6, 0xff, 0xff, 0xff, 0xff})), Error);  // bin 32

  // Nested lists each claiming a little less than the message: the promised
  // elements of all open lists together must fit.
  std::vector<std::byte> nested;
  for (int i = 0; i < 200; ++i) {
    for (const auto b : bytes_of({0xdc, 0x01, 0x00})) nested.push_back(b);  // list of 256
  }
  CHECK_THROWS_WITH(Message::decode(nested), Catch::Contains("more than the message's"));
}

TEST_CASE("nesting is bounded", "[unit][codec]") {
  const auto nested = [](std::size_t depth) {
    std::vector<std::byte> bytes(depth, std::byte{0x91});  // a list of one element
    bytes.push_back(std::byte{0xc0});
    return bytes;
  };
  const Message deepest = Message::decode(nested(Message::kMaxNesting));
  CHECK(deepest.kind() == MessageKind::array);
  CHECK(deepest.to_string().size() == 2 * Message::kMaxNesting + 3);
  CHECK_THROWS_WITH(Message::decode(nested(Message::kMaxNesting + 1)),
                    Catch::Contains("nested deeper than 512"));
  CHECK_THROWS_AS(Message::decode(nested(100'000)), Error);
}

TEST_CASE("malformed extension payloads are rejected", "[unit][codec]") {
  CHECK_THROWS_WITH(Message::decode(raw_ext(1, "short")), Catch::Contains("SendPort"));
  CHECK_THROWS_WITH(Message::decode(raw_ext(1, id_and(std::string("a\0b", 3)))),
                    Catch::Contains("NUL"));
  CHECK_THROWS_WITH(
      Message::decode(raw_ext(1, id_and(std::string(200, 'n')) + std::string(60, 'n'))),
      Catch::Contains("longer than 255"));
  CHECK_NOTHROW(Message::decode(raw_ext(1, id_and("/ok"))));
  CHECK_THROWS_WITH(Message::decode(raw_ext(2, std::string(15, 'c'))),
                    Catch::Contains("Capability payload is not 16 bytes"));
  CHECK_THROWS_AS(Message::decode(raw_ext(2, std::string(17, 'c'))), Error);
  CHECK_NOTHROW(Message::decode(raw_ext(2, std::string(16, 'c'))));
  CHECK_THROWS_WITH(Message::decode(raw_ext(3, id_and(""))), Catch::Contains("empty segment name"));
  CHECK_THROWS_AS(Message::decode(raw_ext(3, "1234567")), Error);
  CHECK_THROWS_WITH(Message::decode(raw_ext(4, "x")), Catch::Contains("unknown type"));
  CHECK_THROWS_WITH(Message::decode(raw_ext(-1, "12345678")), Catch::Contains("unknown type"));
  // fixext 1 of type 2 inside a list
  CHECK_THROWS_AS(Message::decode(bytes_of({0x91, 0xd4, 0x02, 0x00})), Error);
}

TEST_CASE("encoding what the receiver would reject throws and leaves the buffer alone",
          "[unit][codec]") {
  std::vector<std::byte> out = bytes_of({1, 2, 3});
  CHECK_THROWS_AS(detail::encode(std::make_tuple(1, TransferableRef{}), out), Error);
  CHECK(out == bytes_of({1, 2, 3}));
  CHECK_THROWS_AS(detail::encode(TransferableRef{std::string(300, 'n'), 1}, out), Error);
  CHECK(out == bytes_of({1, 2, 3}));
  detail::encode(7, out);
  CHECK(out == bytes_of({1, 2, 3, 7}));  // encode appends
}

TEST_CASE("random and mutated bytes never crash the decoder", "[unit][codec]") {
  std::mt19937 random(12345);
  const auto exercise = [](std::span<const std::byte> bytes) {
    try {
      const Message message = Message::decode(bytes);
      (void)message.to_string();
      (void)message.kind();
      (void)message.is<Job>();
      (void)message.is<std::vector<std::map<std::string, std::optional<int>>>>();
      try {
        (void)message.as<std::tuple<std::string, std::vector<int>, Message>>();
      } catch (const MessageTypeError&) {
      }
      CHECK(same_bytes(encoded(message), bytes));
    } catch (const MessageTypeError&) {
      FAIL("decode must not throw MessageTypeError");
    } catch (const Error&) {
    }
  };

  for (int i = 0; i < 20'000; ++i) {
    std::vector<std::byte> bytes(1 + random() % 48);
    for (auto& b : bytes) b = static_cast<std::byte>(random());
    exercise(bytes);
  }

  const auto valid = encoded(std::make_tuple(
      std::string("text"), std::vector<int>{1, 300, -70000},
      std::map<std::string, double>{{"pi", 3.14}}, SendPort("/isolated.1.ab.inbox", 5),
      Capability::from_bytes(Capability::Bytes{}), TransferableRef{"/isolated.1.ab.ttd", 9},
      std::optional<std::vector<std::uint8_t>>(std::vector<std::uint8_t>{1, 2})));
  for (int i = 0; i < 20'000; ++i) {
    auto bytes = valid;
    for (int flips = 1 + static_cast<int>(random() % 4); flips > 0; --flips) {
      bytes[random() % bytes.size()] = static_cast<std::byte>(random());
    }
    exercise(bytes);
  }
}

namespace {

// `value` (one msgpack value) inside a list of one: decoding the list takes
// msgpack's own parser for the element, never a fast path.
std::vector<std::byte> in_a_list(const std::vector<std::byte>& value) {
  std::vector<std::byte> list = bytes_of({0x91});
  list.insert(list.end(), value.begin(), value.end());
  return list;
}

}  // namespace

TEST_CASE("single values decode as msgpack's own parser reads them, in every width",
          "[unit][codec]") {
  // Short values live inside the Message, single strings and binaries take
  // a copy without the parser: both must agree with the parser exactly.
  std::string long_text(300, 'q');
  std::vector<std::byte> str16 = bytes_of({0xda, 0x01, 0x2c});
  for (const char c : long_text) str16.push_back(static_cast<std::byte>(c));
  std::vector<std::byte> bin32 = bytes_of({0xc6, 0, 0, 0, 5, 1, 2, 3, 4, 5});
  const std::vector<std::vector<std::byte>> samples = {
      bytes_of({0x00}), bytes_of({0x7f}), bytes_of({0xe0}), bytes_of({0xff}),
      bytes_of({0xc0}), bytes_of({0xc2}), bytes_of({0xc3}),
      bytes_of({0xcc, 0xff}), bytes_of({0xcd, 0x12, 0x34}),
      bytes_of({0xce, 0xde, 0xad, 0xbe, 0xef}),
      bytes_of({0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}),
      bytes_of({0xd0, 0x80}), bytes_of({0xd0, 0x05}), bytes_of({0xd1, 0xff, 0xfe}),
      bytes_of({0xd2, 0x80, 0, 0, 0}), bytes_of({0xd3, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}),
      bytes_of({0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0}),
      bytes_of({0xca, 0x3f, 0xc0, 0, 0}), bytes_of({0xcb, 0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18}),
      bytes_of({0xa0}), bytes_of({0xa3, 'a', 'b', 'c'}), bytes_of({0xd9, 2, 'h', 'i'}),
      bytes_of({0xc4, 3, 7, 8, 9}), bytes_of({0xc4, 0}), str16, bin32,
  };
  for (const auto& sample : samples) {
    INFO("first byte " << std::to_integer<int>(sample.front()) << ", " << sample.size() << " bytes");
    const Message fast = Message::decode(sample);
    const Message parsed = Message::decode(in_a_list(sample));
    CHECK("[" + fast.to_string() + "]" == parsed.to_string());
    const auto element = parsed.as<std::vector<Message>>().at(0);
    CHECK(fast.kind() == element.kind());
    CHECK(std::equal(fast.bytes().begin(), fast.bytes().end(), sample.begin(), sample.end()));
  }
  CHECK(Message::decode(bytes_of({0xd0, 0x80})).as<int>() == -128);
  CHECK(Message::decode(bytes_of({0xd0, 0x05})).as<std::uint8_t>() == 5);
  CHECK(Message::decode(bytes_of({0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}))
            .as<std::uint64_t>() == std::numeric_limits<std::uint64_t>::max());
  CHECK(Message::decode(str16).as<std::string>() == long_text);
  CHECK(Message::decode(bin32).as<std::vector<std::uint8_t>>() ==
        std::vector<std::uint8_t>{1, 2, 3, 4, 5});
}

TEST_CASE("a short string held inside the Message survives copies and moves", "[unit][codec]") {
  std::vector<std::byte> bytes;
  detail::encode(std::string("short one"), bytes);
  Message original = Message::decode(bytes);
  bytes.assign(bytes.size(), std::byte{0});  // the decoded message owns its bytes
  Message copy = original;
  Message moved = std::move(original);
  CHECK(original.kind() == MessageKind::nil);
  CHECK(copy.as<std::string_view>() == "short one");
  CHECK(moved.as<std::string_view>() == "short one");
  Message assigned;
  assigned = copy;
  copy = Message();
  CHECK(assigned.as<std::string>() == "short one");
  std::vector<Message> many(3, assigned);
  many.reserve(100);  // the elements move
  for (const auto& m : many) CHECK(m.as<std::string_view>() == "short one");
}

TEST_CASE("single values with a wrong length go to the full parser and are rejected",
          "[unit][codec]") {
  for (const auto& bad : {bytes_of({0xcc}), bytes_of({0xcd, 1}), bytes_of({0xa3, 'a'}),
                          bytes_of({0xd9}), bytes_of({0xc4, 5, 1}), bytes_of({0xcb, 1, 2, 3}),
                          bytes_of({0x01, 0x02}), bytes_of({0xa1, 'a', 'b'}), bytes_of({0xc1})}) {
    CHECK_THROWS_AS(Message::decode(bad), DecodeError);
  }
}
