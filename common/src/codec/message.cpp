// Message: decoding untrusted bytes into a value to read (the checks are in
// checked_object_builder.hpp), and messages made from a part of another.
#include "checked_object_builder.hpp"
#include "message_storage.hpp"
#include "object_kind.hpp"

#include <isolated/detail/byte_sink.hpp>
#include <isolated/error.hpp>
#include <isolated/message.hpp>

#include <msgpack.hpp>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace isolated {

using detail::CheckedObjectBuilder;
using detail::malformed;
using detail::object_zone_estimate;

namespace {

// Big-endian unsigned integer of `width` bytes at `p`.
std::uint64_t load_big(const unsigned char* p, std::size_t width) noexcept {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < width; ++i) value = value << 8 | p[i];
  return value;
}

}  // namespace

bool Message::decode_inline(std::span<const std::byte> bytes) noexcept {
  const std::size_t length = bytes.size();
  if (length == 0 || length > kInlineBytes) return false;
  std::memcpy(inline_bytes_, bytes.data(), length);
  const auto* p = reinterpret_cast<const unsigned char*>(inline_bytes_);
  msgpack::object value;
  std::size_t needed = 1;
  const unsigned char tag = p[0];
  if (tag <= 0x7f) {  // positive fixint
    value.type = msgpack::type::POSITIVE_INTEGER;
    value.via.u64 = tag;
  } else if (tag >= 0xe0) {  // negative fixint
    value.type = msgpack::type::NEGATIVE_INTEGER;
    value.via.i64 = static_cast<std::int8_t>(tag);
  } else if (tag == 0xc0) {
    value.type = msgpack::type::NIL;
  } else if (tag == 0xc2 || tag == 0xc3) {
    value.type = msgpack::type::BOOLEAN;
    value.via.boolean = tag == 0xc3;
  } else if (tag >= 0xcc && tag <= 0xcf) {  // uint 8 to 64
    const std::size_t width = std::size_t{1} << (tag - 0xcc);
    needed = 1 + width;
    if (length != needed) return false;
    value.type = msgpack::type::POSITIVE_INTEGER;
    value.via.u64 = load_big(p + 1, width);
  } else if (tag >= 0xd0 && tag <= 0xd3) {  // int 8 to 64
    const std::size_t width = std::size_t{1} << (tag - 0xd0);
    needed = 1 + width;
    if (length != needed) return false;
    const std::uint64_t raw = load_big(p + 1, width);
    const unsigned shift = static_cast<unsigned>(64 - 8 * width);
    const auto signed_value = static_cast<std::int64_t>(raw << shift) >> shift;
    // As msgpack's own parser does: a non-negative value is a positive integer.
    if (signed_value < 0) {
      value.type = msgpack::type::NEGATIVE_INTEGER;
      value.via.i64 = signed_value;
    } else {
      value.type = msgpack::type::POSITIVE_INTEGER;
      value.via.u64 = static_cast<std::uint64_t>(signed_value);
    }
  } else if (tag == 0xca || tag == 0xcb) {  // float 32, 64
    needed = tag == 0xca ? 5 : 9;
    if (length != needed) return false;
    const std::uint64_t raw = load_big(p + 1, needed - 1);
    if (tag == 0xca) {
      float f;
      const auto bits = static_cast<std::uint32_t>(raw);
      std::memcpy(&f, &bits, sizeof f);
      value.type = msgpack::type::FLOAT32;
      value.via.f64 = f;
    } else {
      double d;
      std::memcpy(&d, &raw, sizeof d);
      value.type = msgpack::type::FLOAT64;
      value.via.f64 = d;
    }
  } else if ((tag >= 0xa0 && tag <= 0xbf) || tag == 0xd9 || tag == 0xc4) {  // short str, bin
    const bool fixed = tag <= 0xbf;
    if (!fixed && length < 2) return false;
    const std::size_t size = fixed ? tag & 0x1f : p[1];
    const std::size_t header = fixed ? 1 : 2;
    needed = header + size;
    if (length != needed) return false;
    const char* at = reinterpret_cast<const char*>(p) + header;
    if (tag == 0xc4) {
      value.type = msgpack::type::BIN;
      value.via.bin.size = static_cast<std::uint32_t>(size);
      value.via.bin.ptr = at;
    } else {
      value.type = msgpack::type::STR;
      value.via.str.size = static_cast<std::uint32_t>(size);
      value.via.str.ptr = at;
    }
  } else {
    return false;  // a list, a map, an extension, or not msgpack: the full parser decides
  }
  if (length != needed) return false;
  root_ = value;
  bytes_ = std::span<const std::byte>(inline_bytes_, length);
  return true;
}

bool Message::decode_blob(std::span<const std::byte> bytes) {
  const std::size_t length = bytes.size();
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const unsigned char tag = p[0];
  std::size_t header = 0;
  std::size_t size = 0;
  bool binary = false;
  if (tag >= 0xa0 && tag <= 0xbf) {
    header = 1;
    size = tag & 0x1f;
  } else if (tag == 0xd9 || tag == 0xda || tag == 0xdb || tag == 0xc4 || tag == 0xc5 ||
             tag == 0xc6) {
    // str 8/16/32 and bin 8/16/32: the size in 1, 2 or 4 big-endian bytes.
    binary = tag >= 0xc4 && tag <= 0xc6;
    const std::size_t width = std::size_t{1} << (binary ? tag - 0xc4 : tag - 0xd9);
    header = 1 + width;
    if (length < header) return false;
    size = static_cast<std::size_t>(load_big(p + 1, width));
  } else {
    return false;
  }
  if (header + size != length) return false;  // not one string or binary: the full parser decides
  detail::MessageStorage* storage = detail::acquire_storage(length);
  detail::StorageRef owner(storage);
  // Copied out of the sender's memory once; the tree is one object.
  char* owned = static_cast<char*>(storage->zone.allocate_no_align(length));
  std::memcpy(owned, bytes.data(), length);
  root_.type = binary ? msgpack::type::BIN : msgpack::type::STR;
  if (binary) {
    root_.via.bin.size = static_cast<std::uint32_t>(size);
    root_.via.bin.ptr = owned + header;
  } else {
    root_.via.str.size = static_cast<std::uint32_t>(size);
    root_.via.str.ptr = owned + header;
  }
  storage_ = std::move(owner);
  bytes_ = std::span<const std::byte>(reinterpret_cast<const std::byte*>(owned), length);
  return true;
}

void Message::decode_tree(std::span<const std::byte> bytes, std::shared_ptr<const void> keep_alive) {
  const std::size_t length = bytes.size();
  const bool copy = keep_alive == nullptr;
  // Released (and recycled) if anything below throws.
  detail::MessageStorage* storage =
      detail::acquire_storage((copy ? length : 0) + object_zone_estimate(length));
  detail::StorageRef owner(storage);
  storage->keep_alive = std::move(keep_alive);
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
  storage_ = std::move(owner);
  root_ = builder.data();
  bytes_ = std::span<const std::byte>(reinterpret_cast<const std::byte*>(data), length);
}

Message Message::decode(std::span<const std::byte> bytes, std::shared_ptr<const void> keep_alive) {
  // One Message, returned as itself (no move on the way out).
  Message message;
  detail::decode_message_into(message, bytes, std::move(keep_alive));
  return message;
}

namespace detail {

void decode_message_into(Message& out, std::span<const std::byte> bytes,
                         std::shared_ptr<const void> keep_alive) {
  if (bytes.empty()) malformed("it is empty (0 bytes)");
  // Into a fresh one first when `out` holds something: it stays as it was if
  // decoding throws.
  if (!out.storage_.empty() || out.root_.type != msgpack::type::NIL) {
    Message fresh;
    decode_message_into(fresh, bytes, std::move(keep_alive));
    out = std::move(fresh);
    return;
  }
  // A single short value (a number, a short string): no storage at all; a
  // single string or binary of any size: a copy, and no parser.
  if (keep_alive == nullptr && (out.decode_inline(bytes) || out.decode_blob(bytes))) return;
  out.decode_tree(bytes, std::move(keep_alive));
}

}  // namespace detail

MessageKind Message::kind() const noexcept { return detail::kind_of(root_); }

namespace detail {

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
