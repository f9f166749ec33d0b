// Decoding and reading messages: the checks that make untrusted bytes safe to
// read, the wire layouts of the extension payloads, and the names and
// renderings that errors and to_string() show.
#include <isolated/detail/ext_types.hpp>
#include <isolated/error.hpp>
#include <isolated/message.hpp>

#include <msgpack.hpp>

#include <cxxabi.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace isolated {

std::string_view to_string(MessageKind kind) noexcept {
  switch (kind) {
    case MessageKind::nil:
      return "nil";
    case MessageKind::boolean:
      return "bool";
    case MessageKind::integer:
      return "int";
    case MessageKind::floating:
      return "float";
    case MessageKind::string:
      return "string";
    case MessageKind::binary:
      return "bytes";
    case MessageKind::array:
      return "list";
    case MessageKind::map:
      return "map";
    case MessageKind::send_port:
      return "SendPort";
    case MessageKind::capability:
      return "Capability";
    case MessageKind::transferable:
      return "TransferableTypedData";
  }
  return "unknown";
}

namespace {

[[noreturn]] void malformed(const std::string& why) {
  throw DecodeError("malformed message: " + why);
}

// ---------------------------------------------------------------------------
// Extension payloads (layouts in ext_types.hpp)

const char* id_and_name_problem(std::span<const char> payload, bool name_required,
                                const char* too_short, const char* empty_name, const char* too_long,
                                const char* has_nul) noexcept {
  if (payload.size() < detail::kExtIdBytes) return too_short;
  const std::span<const char> name = payload.subspan(detail::kExtIdBytes);
  if (name_required && name.empty()) return empty_name;
  if (name.size() > detail::kMaxExtNameBytes) return too_long;
  if (std::find(name.begin(), name.end(), '\0') != name.end()) return has_nul;
  return nullptr;
}

std::string name_of(std::span<const char> payload) {
  return std::string(payload.data() + detail::kExtIdBytes, payload.size() - detail::kExtIdBytes);
}

void check_payload(std::int8_t type, std::span<const char> payload) {
  if (const char* problem = detail::ext_payload_problem(type, payload)) malformed(problem);
}

// ---------------------------------------------------------------------------
// Decoding

// The tree's strings, bins and extensions point into the message's bytes,
// which live as long as the Message: nothing needs copying.
bool refer_to_input(msgpack::type::object_type, std::size_t, void*) {
  return true;
}

// A zone chunk large enough for the objects of most messages at once (each
// list element takes a 24-byte object); bigger trees add chunks.
std::size_t object_zone_estimate(std::size_t length) {
  return std::clamp<std::size_t>(length * 4, 256, 8192);
}

// What a decoded Message owns.
struct Storage {
  Storage(std::shared_ptr<const void> keep_alive, std::size_t zone_chunk)
      : keep_alive(std::move(keep_alive)), zone(zone_chunk) {}
  std::shared_ptr<const void> keep_alive;  // the caller's buffer, when not copied
  msgpack::zone zone;                      // the object tree, and the copy if made
};

// msgpack's own object builder, with the checks untrusted input needs, in the
// same single pass over the bytes (so the checks and the tree cannot disagree
// about what the bytes said). The parser calls these members by name (it is a
// template on the visitor type), so hiding the base's members is enough to
// step in. create_object_visitor is msgpack-cxx's internal builder (in its
// detail namespace, stable through 4.1); if an upgrade changes it, this class
// is the one place to adapt.
//
// The allocation bound: msgpack allocates a list's elements when it reads the
// list's header, before they arrive, so a 5-byte header claiming 2^32 elements
// would cost 96 GiB. Every msgpack item takes at least one byte, so a header
// is accepted only while the items read so far plus every element promised
// and not yet read fit in the message. Then the tree never holds more objects
// than the message has bytes.
class CheckedObjectBuilder : public msgpack::detail::create_object_visitor {
  using Base = msgpack::detail::create_object_visitor;

 public:
  explicit CheckedObjectBuilder(std::size_t length)
      : Base(refer_to_input, nullptr,
             // Redundant with the checks below; a second line of defence.
             msgpack::unpack_limit(length, length / 2, length, length, length,
                                   Message::kMaxNesting)),
        length_(length) {}

  bool visit_nil() {
    ++items_;
    return Base::visit_nil();
  }
  bool visit_boolean(bool v) {
    ++items_;
    return Base::visit_boolean(v);
  }
  bool visit_positive_integer(std::uint64_t v) {
    ++items_;
    return Base::visit_positive_integer(v);
  }
  bool visit_negative_integer(std::int64_t v) {
    ++items_;
    return Base::visit_negative_integer(v);
  }
  bool visit_float32(float v) {
    ++items_;
    return Base::visit_float32(v);
  }
  bool visit_float64(double v) {
    ++items_;
    return Base::visit_float64(v);
  }
  bool visit_str(const char* v, std::uint32_t size) {
    ++items_;
    return Base::visit_str(v, size);
  }
  bool visit_bin(const char* v, std::uint32_t size) {
    ++items_;
    return Base::visit_bin(v, size);
  }

  // `data` is the type byte followed by the payload.
  bool visit_ext(const char* data, std::uint32_t size) {
    ++items_;
    if (size < 1) malformed("an extension without a type");
    check_payload(static_cast<std::int8_t>(data[0]), {data + 1, size - 1});
    return Base::visit_ext(data, size);
  }

  bool start_array(std::uint32_t count) {
    ++items_;
    enter_container();
    promise(count, count, "a list");
    return Base::start_array(count);
  }
  bool start_array_item() {
    --owed_;
    return Base::start_array_item();
  }
  bool end_array() {
    --depth_;
    return Base::end_array();
  }

  bool start_map(std::uint32_t count) {
    ++items_;
    enter_container();
    promise(2 * std::uint64_t{count}, count, "a map");
    return Base::start_map(count);
  }
  bool start_map_key() {
    --owed_;
    return Base::start_map_key();
  }
  bool start_map_value() {
    --owed_;
    return Base::start_map_value();
  }
  bool end_map() {
    --depth_;
    return Base::end_map();
  }

  void parse_error(std::size_t /*parsed_offset*/, std::size_t error_offset) {
    malformed("invalid msgpack at byte " + std::to_string(error_offset) + " of " +
              std::to_string(length_));
  }
  void insufficient_bytes(std::size_t /*parsed_offset*/, std::size_t /*error_offset*/) {
    malformed("truncated: its " + std::to_string(length_) + " bytes end inside a value");
  }

 private:
  void enter_container() {
    if (++depth_ > Message::kMaxNesting) {
      malformed("lists and maps nested deeper than " + std::to_string(Message::kMaxNesting) +
                " levels");
    }
  }

  // A list of `count` promises `count` elements; a map promises 2 * count.
  void promise(std::uint64_t elements, std::uint32_t count, const char* what) {
    owed_ += elements;
    if (items_ + owed_ > length_) {
      malformed(std::string(what) + " claims " + std::to_string(count) +
                " elements, more than the message's " + std::to_string(length_) +
                " bytes can hold");
    }
  }

  std::uint64_t length_;
  std::uint64_t items_ = 0;  // items begun so far; each took at least one byte
  std::uint64_t owed_ = 0;   // elements promised by open lists and maps, not yet begun
  std::size_t depth_ = 0;
};

// ---------------------------------------------------------------------------
// Rendering

MessageKind kind_of(const msgpack::object& object) noexcept {
  switch (object.type) {
    case msgpack::type::NIL:
      return MessageKind::nil;
    case msgpack::type::BOOLEAN:
      return MessageKind::boolean;
    case msgpack::type::POSITIVE_INTEGER:
    case msgpack::type::NEGATIVE_INTEGER:
      return MessageKind::integer;
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64:
      return MessageKind::floating;
    case msgpack::type::STR:
      return MessageKind::string;
    case msgpack::type::BIN:
      return MessageKind::binary;
    case msgpack::type::ARRAY:
      return MessageKind::array;
    case msgpack::type::MAP:
      return MessageKind::map;
    case msgpack::type::EXT:
      switch (object.via.ext.type()) {
        case detail::kSendPortExt:
          return MessageKind::send_port;
        case detail::kCapabilityExt:
          return MessageKind::capability;
        default:
          return MessageKind::transferable;  // decode admits no other type
      }
  }
  return MessageKind::nil;
}

void append_hex(std::string& out, unsigned char byte) {
  static constexpr char kDigits[] = "0123456789abcdef";
  out += kDigits[byte >> 4];
  out += kDigits[byte & 0xf];
}

// Shortest text that reads back as the same number, and always looks like a
// float ("1.0", not "1").
template <class F>
void append_float(std::string& out, F value) {
  char text[64];
  const auto result = std::to_chars(text, text + sizeof text, value);
  const std::string_view written(text, static_cast<std::size_t>(result.ptr - text));
  out += written;
  if (written.find_first_not_of("-0123456789") == std::string_view::npos) out += ".0";
}

void append_quoted(std::string& out, std::string_view text) {
  out += '"';
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          out += "\\u00";
          append_hex(out, static_cast<unsigned char>(c));
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

// Bytes are shown in hex, the first 32 of them.
void append_bytes(std::string& out, std::span<const char> bytes) {
  constexpr std::size_t kShown = 32;
  out += "bytes[";
  for (std::size_t i = 0; i < std::min(bytes.size(), kShown); ++i) {
    if (i > 0) out += ' ';
    append_hex(out, static_cast<unsigned char>(bytes[i]));
  }
  if (bytes.size() > kShown) out += " ... (" + std::to_string(bytes.size()) + " bytes)";
  out += ']';
}

void append_ext(std::string& out, const msgpack::object& object) {
  const std::span<const char> payload(object.via.ext.data(), object.via.ext.size);
  switch (object.via.ext.type()) {
    case detail::kSendPortExt: {
      const SendPort port = detail::read_send_port_ext(payload);
      out += port.valid()
                 ? "SendPort(" + port.inbox_name() + "#" + std::to_string(port.port_id()) + ")"
                 : std::string("SendPort(invalid)");
      return;
    }
    case detail::kCapabilityExt: {
      // Only the first four bytes: enough to tell capabilities apart in a log,
      // too few to forge one from it.
      const auto bytes = detail::read_capability_ext(payload).bytes();
      out += "Capability(";
      for (std::size_t i = 0; i < 4; ++i) append_hex(out, std::to_integer<unsigned char>(bytes[i]));
      out += "...)";
      return;
    }
    default: {
      const detail::TransferableRef ref = detail::read_transferable_ext(payload);
      out +=
          "TransferableTypedData(" + ref.segment_name + ", " + std::to_string(ref.size) + " bytes)";
      return;
    }
  }
}

// Recursion is bounded by Message::kMaxNesting, which decode enforces.
void append_rendering(std::string& out, const msgpack::object& object) {
  switch (object.type) {
    case msgpack::type::NIL:
      out += "nil";
      return;
    case msgpack::type::BOOLEAN:
      out += object.via.boolean ? "true" : "false";
      return;
    case msgpack::type::POSITIVE_INTEGER:
      out += std::to_string(object.via.u64);
      return;
    case msgpack::type::NEGATIVE_INTEGER:
      out += std::to_string(object.via.i64);
      return;
    case msgpack::type::FLOAT32:
      append_float(out, static_cast<float>(object.via.f64));
      return;
    case msgpack::type::FLOAT64:
      append_float(out, object.via.f64);
      return;
    case msgpack::type::STR:
      append_quoted(out, {object.via.str.ptr, object.via.str.size});
      return;
    case msgpack::type::BIN:
      append_bytes(out, {object.via.bin.ptr, object.via.bin.size});
      return;
    case msgpack::type::ARRAY:
      out += '[';
      for (std::uint32_t i = 0; i < object.via.array.size; ++i) {
        if (i > 0) out += ", ";
        append_rendering(out, object.via.array.ptr[i]);
      }
      out += ']';
      return;
    case msgpack::type::MAP:
      out += '{';
      for (std::uint32_t i = 0; i < object.via.map.size; ++i) {
        if (i > 0) out += ", ";
        append_rendering(out, object.via.map.ptr[i].key);
        out += ": ";
        append_rendering(out, object.via.map.ptr[i].val);
      }
      out += '}';
      return;
    case msgpack::type::EXT:
      append_ext(out, object);
      return;
  }
}

// ---------------------------------------------------------------------------
// Type names of what a message holds, for MessageTypeError

std::string describe(const msgpack::object& object, int depth);

// "int", "int | string": the distinct names of `count` objects, at most three.
template <class ObjectAt>
std::string describe_each(std::uint32_t count, ObjectAt object_at, int depth) {
  constexpr std::size_t kMostNames = 3;
  std::vector<std::string> names;
  for (std::uint32_t i = 0; i < count; ++i) {
    std::string name = describe(object_at(i), depth);
    if (std::find(names.begin(), names.end(), name) != names.end()) continue;
    if (names.size() == kMostNames) {
      names.push_back("...");
      break;
    }
    names.push_back(std::move(name));
  }
  std::string joined;
  for (const auto& name : names) joined += (joined.empty() ? "" : " | ") + name;
  return joined;
}

// The friendly type of `object`, looking `depth` levels into lists and maps:
// "list<int>", "map<string, int | nil>".
std::string describe(const msgpack::object& object, int depth) {
  const MessageKind kind = kind_of(object);
  const std::string name(to_string(kind));
  if (kind == MessageKind::array && depth > 0 && object.via.array.size > 0) {
    const msgpack::object* elements = object.via.array.ptr;
    const auto element = [&](std::uint32_t i) -> const msgpack::object& { return elements[i]; };
    return name + "<" + describe_each(object.via.array.size, element, depth - 1) + ">";
  }
  if (kind == MessageKind::map && depth > 0 && object.via.map.size > 0) {
    const msgpack::object_kv* entries = object.via.map.ptr;
    const auto key = [&](std::uint32_t i) -> const msgpack::object& { return entries[i].key; };
    const auto value = [&](std::uint32_t i) -> const msgpack::object& { return entries[i].val; };
    return name + "<" + describe_each(object.via.map.size, key, depth - 1) + ", " +
           describe_each(object.via.map.size, value, depth - 1) + ">";
  }
  return name;
}

}  // namespace

// ---------------------------------------------------------------------------
// Message

Message Message::decode(std::span<const std::byte> bytes, std::shared_ptr<const void> keep_alive) {
  if (bytes.empty()) malformed("it is empty (0 bytes)");
  const std::size_t length = bytes.size();
  const bool copy = keep_alive == nullptr;
  auto storage = std::make_shared<Storage>(std::move(keep_alive),
                                           (copy ? length : 0) + object_zone_estimate(length));
  const char* data = reinterpret_cast<const char*>(bytes.data());
  if (copy) {
    char* owned = static_cast<char*>(storage->zone.allocate_no_align(length));
    std::memcpy(owned, data, length);
    data = owned;
  }

  CheckedObjectBuilder builder(length);
  builder.set_zone(storage->zone);
  std::size_t end = 0;
  bool parsed = false;
  try {
    parsed = msgpack::parse(data, length, end, builder);
  } catch (const msgpack::unpack_error& e) {
    malformed(e.what());
  }
  if (!parsed) malformed("msgpack's parser stopped early");
  if (end != length) {
    malformed(std::to_string(length - end) + " bytes follow the end of the value");
  }
  return Message(std::move(storage), builder.data(),
                 {reinterpret_cast<const std::byte*>(data), length});
}

MessageKind Message::kind() const noexcept {
  return kind_of(root_);
}

std::string Message::to_string() const {
  std::string out;
  append_rendering(out, root_);
  return out;
}

// ---------------------------------------------------------------------------
// detail

namespace detail {

const char* ext_payload_problem(std::int8_t type, std::span<const char> payload) noexcept {
  switch (type) {
    case kSendPortExt:
      return id_and_name_problem(payload, /*name_required=*/false,
                                 "a SendPort payload is shorter than its 8-byte port id", nullptr,
                                 "a SendPort's inbox name is longer than 255 bytes",
                                 "a SendPort's inbox name contains a NUL byte");
    case kCapabilityExt:
      return payload.size() == Capability::kSize ? nullptr : "a Capability payload is not 16 bytes";
    case kTransferableExt:
      return id_and_name_problem(payload, /*name_required=*/true,
                                 "a TransferableTypedData payload is shorter than its 8-byte size",
                                 "a TransferableTypedData has an empty segment name",
                                 "a TransferableTypedData's segment name is longer than 255 bytes",
                                 "a TransferableTypedData's segment name contains a NUL byte");
    default:
      return "an extension of unknown type (isolated uses 1 to 3)";
  }
}

SendPort read_send_port_ext(std::span<const char> payload) {
  check_payload(kSendPortExt, payload);
  return SendPort(name_of(payload), load_big_endian<std::uint64_t>(payload.data()));
}

Capability read_capability_ext(std::span<const char> payload) {
  check_payload(kCapabilityExt, payload);
  return Capability::from_bytes(std::span<const std::byte, Capability::kSize>(
      reinterpret_cast<const std::byte*>(payload.data()), Capability::kSize));
}

TransferableRef read_transferable_ext(std::span<const char> payload) {
  check_payload(kTransferableExt, payload);
  return TransferableRef{name_of(payload), load_big_endian<std::uint64_t>(payload.data())};
}

std::string demangled_name(const char* mangled) {
  int status = 0;
  const std::unique_ptr<char, void (*)(void*)> readable(
      abi::__cxa_demangle(mangled, nullptr, nullptr, &status), std::free);
  return status == 0 && readable ? std::string(readable.get()) : std::string(mangled);
}

void throw_type_mismatch(const msgpack::object& found, const std::string& asked,
                         const char* cxx_name) {
  const std::string holds = describe(found, 2);
  if (holds != asked) throw MessageTypeError("message holds " + holds + ", not " + asked);
  // Same friendly name: a number that does not fit the C++ type asked for.
  std::string value;
  if (found.type == msgpack::type::POSITIVE_INTEGER) value = " " + std::to_string(found.via.u64);
  if (found.type == msgpack::type::NEGATIVE_INTEGER) value = " " + std::to_string(found.via.i64);
  throw MessageTypeError("message holds " + holds + value + ", which does not fit in " +
                         demangled_name(cxx_name));
}

Message message_from_object(const msgpack::object& object) {
  auto bytes = std::make_shared<std::vector<std::byte>>();
  {
    ByteSink sink(*bytes);  // *bytes is complete once the sink is gone
    msgpack::packer<ByteSink> packer(sink);
    packer.pack(object);
  }
  Message message = Message::decode(*bytes, bytes);
  // A part of the message being read shares its transferables.
  message.transfers_ = reading_transfers();
  return message;
}

}  // namespace detail

}  // namespace isolated
