// What to_string() shows: the names of MessageKinds and the rendering of a
// message's value.
#include "object_kind.hpp"

#include <isolated/detail/ext_types.hpp>
#include <isolated/message.hpp>

#include <msgpack.hpp>

#include <algorithm>
#include <charconv>
#include <string>

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

namespace detail {

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

}  // namespace detail

namespace {

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

}  // namespace

std::string Message::to_string() const {
  std::string out;
  append_rendering(out, root_);
  return out;
}

}  // namespace isolated
