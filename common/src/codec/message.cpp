// Message: decoding untrusted bytes into a value to read (the checks are in
// checked_object_builder.hpp), and messages made from a part of another.
#include "checked_object_builder.hpp"
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
using detail::Storage;

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
