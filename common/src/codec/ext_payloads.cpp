// The wire layouts of the extension payloads (ext_types.hpp): SendPort,
// Capability and TransferableTypedData, checked before they are read.
#include <isolated/detail/big_endian.hpp>
#include <isolated/detail/ext_types.hpp>
#include <isolated/error.hpp>

#include <algorithm>
#include <span>
#include <string>

namespace isolated::detail {
namespace {

const char* id_and_name_problem(std::span<const char> payload, bool name_required,
                                const char* too_short, const char* empty_name, const char* too_long,
                                const char* has_nul) noexcept {
  if (payload.size() < kExtIdBytes) return too_short;
  const std::span<const char> name = payload.subspan(kExtIdBytes);
  if (name_required && name.empty()) return empty_name;
  if (name.size() > kMaxExtNameBytes) return too_long;
  if (std::find(name.begin(), name.end(), '\0') != name.end()) return has_nul;
  return nullptr;
}

std::string name_of(std::span<const char> payload) {
  return std::string(payload.data() + kExtIdBytes, payload.size() - kExtIdBytes);
}

void check_payload(std::int8_t type, std::span<const char> payload) {
  if (const char* problem = ext_payload_problem(type, payload)) {
    throw DecodeError(std::string("malformed message: ") + problem);
  }
}

}  // namespace

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

}  // namespace isolated::detail
