// msgpack adaptors for isolated's own value types, so that they can be sent
// alone and be members of user types with MSGPACK_DEFINE (API.md, "msgpack").
// Converting from a msgpack object throws msgpack::type_error when the object
// holds another type (msgpack's convention, which Message::as turns into a
// MessageTypeError) and isolated::Error when an extension payload is malformed.
#pragma once

#include <isolated/capability.hpp>
#include <isolated/detail/ext_types.hpp>
#include <isolated/detail/transferable_ref.hpp>
#include <isolated/send_port.hpp>

#include <msgpack.hpp>

#include <cstddef>

namespace msgpack {
MSGPACK_API_VERSION_NAMESPACE(MSGPACK_DEFAULT_API_NS) {
namespace adaptor {

// msgpack has no adaptor for nullptr; `nullptr` is how C++ code writes nil.
template <>
struct pack<std::nullptr_t> {
  template <class Stream>
  packer<Stream>& operator()(packer<Stream>& out, std::nullptr_t) const {
    return out.pack_nil();
  }
};

template <>
struct convert<std::nullptr_t> {
  const msgpack::object& operator()(const msgpack::object& in, std::nullptr_t& value) const {
    if (!in.is_nil()) throw msgpack::type_error();
    value = nullptr;
    return in;
  }
};

template <>
struct pack<isolated::SendPort> {
  template <class Stream>
  packer<Stream>& operator()(packer<Stream>& out, const isolated::SendPort& port) const {
    isolated::detail::pack_id_and_name_ext(out, isolated::detail::kSendPortExt, port.port_id(),
                                           port.inbox_name(), "a SendPort");
    return out;
  }
};

template <>
struct convert<isolated::SendPort> {
  const msgpack::object& operator()(const msgpack::object& in, isolated::SendPort& port) const {
    port = isolated::detail::read_send_port_ext(
        isolated::detail::ext_payload(in, isolated::detail::kSendPortExt));
    return in;
  }
};

template <>
struct pack<isolated::Capability> {
  template <class Stream>
  packer<Stream>& operator()(packer<Stream>& out, const isolated::Capability& capability) const {
    const auto bytes = capability.bytes();
    out.pack_ext(bytes.size(), isolated::detail::kCapabilityExt);
    out.pack_ext_body(reinterpret_cast<const char*>(bytes.data()),
                      static_cast<std::uint32_t>(bytes.size()));
    return out;
  }
};

// `as` builds the capability straight from its bytes. Without it msgpack would
// default-construct one first, which costs a getrandom call for nothing.
template <>
struct as<isolated::Capability> {
  isolated::Capability operator()(const msgpack::object& in) const {
    return isolated::detail::read_capability_ext(
        isolated::detail::ext_payload(in, isolated::detail::kCapabilityExt));
  }
};

template <>
struct convert<isolated::Capability> {
  const msgpack::object& operator()(const msgpack::object& in,
                                    isolated::Capability& capability) const {
    capability = as<isolated::Capability>()(in);
    return in;
  }
};

template <>
struct pack<isolated::detail::TransferableRef> {
  template <class Stream>
  packer<Stream>& operator()(packer<Stream>& out,
                             const isolated::detail::TransferableRef& ref) const {
    if (ref.segment_name.empty()) {
      throw isolated::UsageError("cannot send a TransferableTypedData that holds no block");
    }
    isolated::detail::pack_id_and_name_ext(out, isolated::detail::kTransferableExt, ref.size,
                                           ref.segment_name, "a TransferableTypedData");
    return out;
  }
};

template <>
struct convert<isolated::detail::TransferableRef> {
  const msgpack::object& operator()(const msgpack::object& in,
                                    isolated::detail::TransferableRef& ref) const {
    ref = isolated::detail::read_transferable_ext(
        isolated::detail::ext_payload(in, isolated::detail::kTransferableExt));
    return in;
  }
};

}  // namespace adaptor
}  // MSGPACK_API_VERSION_NAMESPACE(MSGPACK_DEFAULT_API_NS)
}  // namespace msgpack
