// TransferableTypedData in messages: written as its block's name (extension
// type 3), read by taking the block out of the received message.
#pragma once

#include <isolated/detail/ext_types.hpp>
#include <isolated/detail/msgpack_adaptors.hpp>
#include <isolated/detail/value_traits.hpp>
#include <isolated/transferable.hpp>

#include <msgpack.hpp>

namespace isolated::detail {

template <>
struct value_traits<TransferableTypedData> : leaf_traits, ext_shape<kTransferableExt> {
  static std::string name() { return "TransferableTypedData"; }
};

}  // namespace isolated::detail

namespace msgpack {
MSGPACK_API_VERSION_NAMESPACE(MSGPACK_DEFAULT_API_NS) {
namespace adaptor {

template <>
struct pack<isolated::TransferableTypedData> {
  template <class Stream>
  packer<Stream>& operator()(packer<Stream>& out,
                             const isolated::TransferableTypedData& handle) const {
    // ref() throws for an empty handle: it was sent or materialized already.
    out.pack(handle.ref());
    isolated::detail::note_packed(handle);
    return out;
  }
};

template <>
struct as<isolated::TransferableTypedData> {
  isolated::TransferableTypedData operator()(const msgpack::object& in) const {
    isolated::detail::TransferableRef ref;
    convert<isolated::detail::TransferableRef>()(in, ref);
    return isolated::detail::take_transferable(ref);
  }
};

template <>
struct convert<isolated::TransferableTypedData> {
  const msgpack::object& operator()(const msgpack::object& in,
                                    isolated::TransferableTypedData& handle) const {
    handle = as<isolated::TransferableTypedData>()(in);
    return in;
  }
};

}  // namespace adaptor
}  // MSGPACK_API_VERSION_NAMESPACE(MSGPACK_DEFAULT_API_NS)
}  // namespace msgpack
