// The wire form of the three values msgpack has no type for. Each travels as
// a msgpack extension (ext) whose payload is laid out here; integers are
// big-endian, as msgpack's own are. The type numbers and layouts are part of
// the wire format between processes: never renumber, only add.
//
//   type 1  SendPort               [u64 port id][inbox name: 0..255 bytes, no NUL]
//                                  (an empty name is the invalid port)
//   type 2  Capability             [16 random bytes]
//   type 3  TransferableTypedData  [u64 size][segment name: 1..255 bytes, no NUL]
#pragma once

#include <isolated/capability.hpp>
#include <isolated/detail/big_endian.hpp>
#include <isolated/detail/transferable_ref.hpp>
#include <isolated/error.hpp>
#include <isolated/send_port.hpp>

#include <msgpack.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

namespace isolated::detail {

inline constexpr std::int8_t kSendPortExt = 1;
inline constexpr std::int8_t kCapabilityExt = 2;
inline constexpr std::int8_t kTransferableExt = 3;

inline constexpr std::size_t kExtIdBytes = 8;  // the u64 in front of a name
inline constexpr std::size_t kMaxExtNameBytes = SendPort::kMaxInboxNameBytes;

// Why `payload` is not a well-formed payload of extension `type` (also when
// the type is unknown), or nullptr when it is. Never reads outside `payload`.
const char* ext_payload_problem(std::int8_t type, std::span<const char> payload) noexcept;

// The value in a payload; each throws isolated::Error if the payload is
// malformed. Defined with ext_payload_problem in ext_payloads.cpp.
SendPort read_send_port_ext(std::span<const char> payload);
Capability read_capability_ext(std::span<const char> payload);
TransferableRef read_transferable_ext(std::span<const char> payload);

// The payload of `object` if it is an extension of `type`; else msgpack's own
// type_error, so that msgpack's conversions report a mismatch as they always do.
inline std::span<const char> ext_payload(const msgpack::object& object, std::int8_t type) {
  if (object.type != msgpack::type::EXT || object.via.ext.type() != type) {
    throw msgpack::type_error();
  }
  return {object.via.ext.data(), object.via.ext.size};
}

// Writes an extension laid out as [u64 id][name]. Throws isolated::Error
// rather than write a payload the receiving side would reject.
template <class Stream>
void pack_id_and_name_ext(msgpack::packer<Stream>& packer, std::int8_t type, std::uint64_t id,
                          std::string_view name, std::string_view what) {
  if (name.size() > kMaxExtNameBytes || name.find('\0') != std::string_view::npos) {
    throw UsageError("cannot send " + std::string(what) + " with the name '" + std::string(name) +
                "': names are at most " + std::to_string(kMaxExtNameBytes) +
                " bytes and contain no NUL");
  }
  char id_bytes[kExtIdBytes];
  store_big_endian(id, id_bytes);
  const auto name_size = static_cast<std::uint32_t>(name.size());
  packer.pack_ext(kExtIdBytes + name_size, type);
  packer.pack_ext_body(id_bytes, kExtIdBytes);
  packer.pack_ext_body(name.data(), name_size);
}

}  // namespace isolated::detail
