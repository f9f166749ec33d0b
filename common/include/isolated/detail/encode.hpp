// Encoding a value as one msgpack message. The only way values become bytes,
// so the only place that enforces Sendable.
#pragma once

#include <isolated/detail/byte_sink.hpp>
#include <isolated/detail/msgpack_adaptors.hpp>
#include <isolated/detail/transferable_adaptors.hpp>
#include <isolated/detail/value_traits.hpp>

#include <msgpack.hpp>

#include <cstddef>
#include <vector>

namespace isolated::detail {

template <class T>
inline constexpr bool always_false = false;

// Instantiated only for a type that cannot be sent, so that the compiler's
// "required from" note names the part that spoils it: cannot_send<std::thread>.
template <class Culprit>
struct cannot_send {
  static_assert(always_false<Culprit>,
                "isolated: the type in cannot_send<...> is the part of the message that cannot "
                "be sent");
};

// Appends the msgpack encoding of `value` to `out`. If it throws (a name too
// long for a SendPort, an empty TransferableTypedData, allocation failure),
// `out` is left as it was. Allocates only to grow `out`.
template <class T>
void encode(const T& value, std::vector<std::byte>& out) {
  static_assert(Sendable<T>,
                "isolated: this type cannot be sent in a message. Sendable are nil (nullptr), "
                "bool, integers, float, double, std::string (also std::string_view and const "
                "char* for sending), bytes (std::vector<std::uint8_t>), std::vector, std::map, "
                "std::unordered_map, std::optional, std::tuple, std::pair, structs with "
                "MSGPACK_DEFINE, SendPort, Capability, TransferableTypedData and Message; a "
                "container only if everything in it is sendable.");
  if constexpr (Sendable<T>) {
    const std::size_t size_before = out.size();
    try {
      ByteSink sink(out);
      msgpack::packer<ByteSink> packer(sink);
      packer.pack(value);
    } catch (...) {
      out.resize(size_before);
      throw;
    }
  } else {
    (void)sizeof(cannot_send<typename value_traits<std::remove_cvref_t<T>>::culprit>);
  }
}

}  // namespace isolated::detail
