// What isolated makes of each C++ type in a message (DESIGN §4):
//   sendable    it may be passed to encode (and so to SendPort::send);
//   receivable  a Message may be read as it (Message::as / is);
//   culprit     for a type that is not sendable, the part that spoils it
//               (the diagnostic names it); void for a sendable type;
//   name()      the friendly name MessageTypeError uses ("int", "list<string>");
//   matches()   whether a decoded msgpack object can be read as the type.
// Everything not listed here is unsendable. A container is sendable only if
// its parts are, so std::vector<std::thread> is not. A later layer makes its
// own type sendable by specializing value_traits (with msgpack adaptors).
#pragma once

#include <isolated/capability.hpp>
#include <isolated/detail/byte_sink.hpp>
#include <isolated/detail/ext_types.hpp>
#include <isolated/detail/transferable_ref.hpp>
#include <isolated/error.hpp>
#include <isolated/send_port.hpp>

#include <msgpack.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <unordered_map>
#include <utility>
#include <vector>

namespace isolated {
class Message;
}

namespace isolated::detail {

// How far matches() looks.
enum class Check {
  shape,  // for as<T>: msgpack's conversion follows and reports the rest
  full,   // for is<T>: nothing follows, so user structs are converted on trial
};

// The readable name of a C++ type from its typeid name (defined in
// type_description.cpp).
std::string demangled_name(const char* mangled);

template <class T>
struct value_traits {
  static constexpr bool sendable = false;
  static constexpr bool receivable = false;
  using culprit = T;
};

struct leaf_traits {
  static constexpr bool sendable = true;
  static constexpr bool receivable = true;
  using culprit = void;
};

// Pointers, arrays and mutable spans: fine to send, but nothing a Message can
// hand back (it would not know who owns the characters or bytes).
struct send_only_traits {
  static constexpr bool sendable = true;
  static constexpr bool receivable = false;
  using culprit = void;
};

template <class... Ts>
struct first_non_void {
  using type = void;
};
template <class T, class... Ts>
struct first_non_void<T, Ts...> {
  using type = std::conditional_t<std::is_void_v<T>, typename first_non_void<Ts...>::type, T>;
};

template <class... Parts>
struct composite_traits {
  static constexpr bool sendable = (value_traits<Parts>::sendable && ...);
  static constexpr bool receivable = (value_traits<Parts>::receivable && ...);
  using culprit = typename first_non_void<typename value_traits<Parts>::culprit...>::type;
};

template <class... Ts>
std::string joined_names() {
  std::string names;
  ((names += (names.empty() ? "" : ", ") + value_traits<Ts>::name()), ...);
  return names;
}

// ---- scalars ----

struct nil_shape {
  static std::string name() { return "nil"; }
  static bool matches(const msgpack::object& object, Check) noexcept { return object.is_nil(); }
};
template <>
struct value_traits<std::nullptr_t> : leaf_traits, nil_shape {};
template <>
struct value_traits<msgpack::type::nil_t> : leaf_traits, nil_shape {};

template <>
struct value_traits<bool> : leaf_traits {
  static std::string name() { return "bool"; }
  static bool matches(const msgpack::object& object, Check) noexcept {
    return object.type == msgpack::type::BOOLEAN;
  }
};

// The integer types msgpack packs as integers (not bool, not character types
// other than char).
template <class T>
concept wire_integer = std::integral<T> && !std::same_as<T, bool> && !std::same_as<T, wchar_t> &&
                       !std::same_as<T, char8_t> && !std::same_as<T, char16_t> &&
                       !std::same_as<T, char32_t>;

template <class T>
  requires wire_integer<T>
struct value_traits<T> : leaf_traits {
  // std::in_range does not take char; its signed or unsigned twin has its range.
  using range_type =
      std::conditional_t<std::same_as<T, char>,
                         std::conditional_t<std::is_signed_v<char>, signed char, unsigned char>, T>;
  static std::string name() { return "int"; }
  // An integer matches only if it fits: as<std::uint8_t>() of 300 fails.
  static bool matches(const msgpack::object& object, Check) noexcept {
    if (object.type == msgpack::type::POSITIVE_INTEGER) {
      return std::in_range<range_type>(object.via.u64);
    }
    if (object.type == msgpack::type::NEGATIVE_INTEGER) {
      return std::in_range<range_type>(object.via.i64);
    }
    return false;
  }
};

// Floating point reads integers too, as C++ converts them implicitly.
template <class T>
  requires std::same_as<T, float> || std::same_as<T, double>
struct value_traits<T> : leaf_traits {
  static std::string name() { return "float"; }
  static bool matches(const msgpack::object& object, Check) noexcept {
    return object.type == msgpack::type::FLOAT32 || object.type == msgpack::type::FLOAT64 ||
           object.type == msgpack::type::POSITIVE_INTEGER ||
           object.type == msgpack::type::NEGATIVE_INTEGER;
  }
};

// ---- strings and bytes: never confused with each other ----

struct string_shape {
  static std::string name() { return "string"; }
  static bool matches(const msgpack::object& object, Check) noexcept {
    return object.type == msgpack::type::STR;
  }
};
template <>
struct value_traits<std::string> : leaf_traits, string_shape {};
// A view into the Message's bytes: valid while the Message lives.
template <>
struct value_traits<std::string_view> : leaf_traits, string_shape {};
template <>
struct value_traits<const char*> : send_only_traits, string_shape {};
template <>
struct value_traits<char*> : send_only_traits, string_shape {};
template <std::size_t N>
struct value_traits<char[N]> : send_only_traits, string_shape {};

struct bytes_shape {
  static std::string name() { return "bytes"; }
  static bool matches(const msgpack::object& object, Check) noexcept {
    return object.type == msgpack::type::BIN;
  }
};
template <class A>
struct value_traits<std::vector<unsigned char, A>> : leaf_traits, bytes_shape {};
template <class A>
struct value_traits<std::vector<char, A>> : leaf_traits, bytes_shape {};
template <class A>
struct value_traits<std::vector<std::byte, A>> : leaf_traits, bytes_shape {};
// Const spans are views into the Message's bytes: valid while it lives.
template <>
struct value_traits<std::span<const unsigned char>> : leaf_traits, bytes_shape {};
template <>
struct value_traits<std::span<const char>> : leaf_traits, bytes_shape {};
template <>
struct value_traits<std::span<const std::byte>> : leaf_traits, bytes_shape {};
template <>
struct value_traits<std::span<unsigned char>> : send_only_traits, bytes_shape {};
template <>
struct value_traits<std::span<char>> : send_only_traits, bytes_shape {};
template <>
struct value_traits<std::span<std::byte>> : send_only_traits, bytes_shape {};

// ---- containers ----

template <class T, class A>
struct value_traits<std::vector<T, A>> : composite_traits<T> {
  static std::string name() { return "list<" + value_traits<T>::name() + ">"; }
  static bool matches(const msgpack::object& object, Check check) {
    if (object.type != msgpack::type::ARRAY) return false;
    for (std::uint32_t i = 0; i < object.via.array.size; ++i) {
      if (!value_traits<T>::matches(object.via.array.ptr[i], check)) return false;
    }
    return true;
  }
};

template <class K, class V>
struct map_traits : composite_traits<K, V> {
  static std::string name() { return "map<" + joined_names<K, V>() + ">"; }
  static bool matches(const msgpack::object& object, Check check) {
    if (object.type != msgpack::type::MAP) return false;
    for (std::uint32_t i = 0; i < object.via.map.size; ++i) {
      const msgpack::object_kv& entry = object.via.map.ptr[i];
      if (!value_traits<K>::matches(entry.key, check) ||
          !value_traits<V>::matches(entry.val, check)) {
        return false;
      }
    }
    return true;
  }
};
template <class K, class V, class C, class A>
struct value_traits<std::map<K, V, C, A>> : map_traits<K, V> {};
template <class K, class V, class H, class E, class A>
struct value_traits<std::unordered_map<K, V, H, E, A>> : map_traits<K, V> {};

template <class T>
struct value_traits<std::optional<T>> : composite_traits<T> {
  static std::string name() { return "optional<" + value_traits<T>::name() + ">"; }
  static bool matches(const msgpack::object& object, Check check) {
    return object.is_nil() || value_traits<T>::matches(object, check);
  }
};

// Tuples and pairs travel as lists of exactly their size. Sending takes tuples
// of references too (std::tie); reading needs plain element types.
template <class... Ts>
struct tuple_traits : composite_traits<std::remove_cvref_t<Ts>...> {
  static constexpr bool receivable = composite_traits<std::remove_cvref_t<Ts>...>::receivable &&
                                     (std::is_same_v<Ts, std::remove_cvref_t<Ts>> && ...);
  static std::string name() { return "tuple<" + joined_names<std::remove_cvref_t<Ts>...>() + ">"; }
  static bool matches(const msgpack::object& object, Check check) {
    if (object.type != msgpack::type::ARRAY || object.via.array.size != sizeof...(Ts)) return false;
    return elements_match(object.via.array.ptr, check, std::index_sequence_for<Ts...>{});
  }

 private:
  template <std::size_t... I>
  static bool elements_match([[maybe_unused]] const msgpack::object* elements,
                             [[maybe_unused]] Check check,
                             std::index_sequence<I...>) {
    return (value_traits<std::remove_cvref_t<Ts>>::matches(elements[I], check) && ...);
  }
};
template <class... Ts>
struct value_traits<std::tuple<Ts...>> : tuple_traits<Ts...> {};
template <class A, class B>
struct value_traits<std::pair<A, B>> : tuple_traits<A, B> {};

// ---- isolated's own types (extensions, see ext_types.hpp) ----

template <std::int8_t Type>
struct ext_shape {
  // The payload was validated when the Message was decoded.
  static bool matches(const msgpack::object& object, Check) noexcept {
    return object.type == msgpack::type::EXT && object.via.ext.type() == Type;
  }
};
template <>
struct value_traits<SendPort> : leaf_traits, ext_shape<kSendPortExt> {
  static std::string name() { return "SendPort"; }
};
template <>
struct value_traits<Capability> : leaf_traits, ext_shape<kCapabilityExt> {
  static std::string name() { return "Capability"; }
};
template <>
struct value_traits<TransferableRef> : leaf_traits, ext_shape<kTransferableExt> {
  static std::string name() { return "TransferableTypedData"; }
};

// A received Message, sent on: forwarded as its bytes, unchanged.
template <>
struct value_traits<Message> : leaf_traits {
  static std::string name() { return "Message"; }
  static bool matches(const msgpack::object&, Check) noexcept { return true; }
};

// ---- user types with MSGPACK_DEFINE (detected by its msgpack_pack member) ----

template <class T>
concept msgpack_struct = std::is_class_v<T> && requires(const T& value,
                                                        msgpack::packer<ByteSink>& packer) {
  value.msgpack_pack(packer);
};

// Their members cannot be inspected from outside, so a struct is trusted to
// hold what its MSGPACK_DEFINE lists; msgpack rejects a member it cannot pack.
template <class T>
  requires msgpack_struct<T>
struct value_traits<T> {
  static constexpr bool sendable = true;
  static constexpr bool receivable =
      std::default_initializable<T> &&
      requires(T& value, const msgpack::object& object) { value.msgpack_unpack(object); };
  using culprit = void;

  static std::string name() { return demangled_name(typeid(T).name()); }
  static bool matches(const msgpack::object& object, Check check) {
    // MSGPACK_DEFINE writes a list, MSGPACK_DEFINE_MAP a map.
    if (object.type != msgpack::type::ARRAY && object.type != msgpack::type::MAP) return false;
    if (check == Check::shape) return true;
    try {
      T value;
      object.convert(value);
      return true;
    } catch (const msgpack::type_error&) {
      return false;
    } catch (const Error&) {
      return false;
    }
  }
};

}  // namespace isolated::detail

namespace isolated {

// The types a message can hold (DESIGN §4): nil (nullptr), bool, integers,
// floating point, strings, bytes (std::vector<std::uint8_t>), std::vector,
// std::map, std::unordered_map, std::optional, std::tuple, std::pair, structs
// with MSGPACK_DEFINE, SendPort, Capability, TransferableTypedData and a
// received Message; containers only of sendable types.
template <class T>
concept Sendable = detail::value_traits<std::remove_cvref_t<T>>::sendable;

}  // namespace isolated

namespace isolated::detail {

// The types Message::as<T> and is<T> can produce.
template <class T>
concept Receivable = std::is_object_v<T> && std::is_same_v<T, std::remove_cv_t<T>> &&
                     value_traits<T>::receivable;

}  // namespace isolated::detail
