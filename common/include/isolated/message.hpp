// Messages (DESIGN §4). Values are encoded as msgpack by detail::encode; a
// received Message is dynamically typed, as in Dart: ask what it holds with
// kind() or is<T>(), read it with as<T>(). A Message is itself sendable and is
// then forwarded unchanged.
#pragma once

#include <isolated/detail/encode.hpp>
#include <isolated/detail/message_storage.hpp>
#include <isolated/detail/msgpack_adaptors.hpp>
#include <isolated/detail/transfer_table.hpp>
#include <isolated/detail/transferable_adaptors.hpp>
#include <isolated/detail/value_traits.hpp>
#include <isolated/error.hpp>

#include <msgpack.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>

namespace isolated {

enum class MessageKind {
  nil,
  boolean,
  integer,
  floating,
  string,
  binary,
  array,
  map,
  send_port,
  capability,
  transferable
};

// The friendly name of a kind, as MessageTypeError uses it: "nil", "bool",
// "int", "float", "string", "bytes", "list", "map", "SendPort", "Capability",
// "TransferableTypedData".
std::string_view to_string(MessageKind kind) noexcept;

class Message;
namespace detail {
Message message_from_object(const msgpack::object& object);
void decode_message_into(Message& out, std::span<const std::byte> bytes,
                         std::shared_ptr<const void> keep_alive);
}  // namespace detail

class Message {
 public:
  // The deepest nesting of lists and maps a received message may have; deeper
  // ones are rejected, since reading them recurses.
  static constexpr std::size_t kMaxNesting = 512;

  // The nil message. Allocates nothing.
  Message() noexcept = default;

  // Copies share the decoded message (a reference count), never the bytes
  // (a message of a few bytes is copied whole).
  Message(const Message& other) noexcept;
  Message& operator=(const Message& other) noexcept;
  // A moved-from Message is nil.
  Message(Message&& other) noexcept;
  Message& operator=(Message&& other) noexcept;
  ~Message() = default;

  // Decodes one msgpack value that must fill `bytes` exactly. The bytes are
  // untrusted: anything malformed (bad or truncated msgpack, bytes after the
  // value, nesting deeper than kMaxNesting, a list claiming more elements than
  // there are bytes, an unknown or malformed extension) throws isolated::Error
  // saying what is wrong. Memory use is bounded by a small multiple of
  // bytes.size().
  // With a `keep_alive`, the Message refers to `bytes` instead of copying them
  // and holds `keep_alive` (e.g. the mapping of a shared-memory segment) as
  // long as it, or a copy of it, lives. The bytes must not change meanwhile: a
  // buffer that an untrusted process can still write must be copied (pass no
  // keep_alive). Without one, the bytes are copied once.
  static Message decode(std::span<const std::byte> bytes,
                        std::shared_ptr<const void> keep_alive = {});

  MessageKind kind() const noexcept;

  // The value as a T. Throws MessageTypeError naming what was asked for and
  // what the message holds ("message holds int, not string"). A
  // std::string_view or const span T views the message's bytes and is valid
  // while this Message (or a copy) lives. Reading a Message gives this one.
  template <class T>
  T as() const;

  // Whether as<T>() would succeed. Never throws for the built-in types; for a
  // user struct it converts on trial.
  template <class T>
  bool is() const;

  // A readable, JSON-like rendering for logs and tests, such as
  // [1, "a", {"k": true}, SendPort(/isolated.12.ab.inbox#3)].
  std::string to_string() const;

  // The msgpack encoding, exactly as received.
  std::span<const std::byte> bytes() const noexcept { return bytes_; }

  // Runtime use: maps the blocks of the transferables this message carries
  // and unlinks their names, so that nothing leaks whether or not it is read.
  void adopt_transferables() {
    // Only a list, a map or an extension can name a block.
    if (root_.type == msgpack::type::ARRAY || root_.type == msgpack::type::MAP ||
        root_.type == msgpack::type::EXT) {
      transfers_ = detail::adopt_transfers(root_);
    }
  }

 private:
  static constexpr std::byte kNilBytes[] = {std::byte{0xc0}};
  // A message this short (a number, a bool, a short string) is kept inside
  // the Message itself: no storage to allocate or count references of.
  static constexpr std::size_t kInlineBytes = 16;

  // Decodes a message of at most kInlineBytes that is a single value other
  // than a list or a map, into this (nil) Message; false if it is not one.
  bool decode_inline(std::span<const std::byte> bytes) noexcept;
  // Decodes a message that is one string or one binary value, into this (nil)
  // Message; false if it is not one. Throws as allocation does.
  bool decode_blob(std::span<const std::byte> bytes);
  // Decodes any message into this (nil) Message with msgpack's parser and the
  // checks of checked_object_builder.hpp. Throws DecodeError.
  void decode_tree(std::span<const std::byte> bytes, std::shared_ptr<const void> keep_alive);
  bool is_inline() const noexcept { return bytes_.data() == inline_bytes_; }
  // Copies `other`'s inline bytes into ours and points bytes_ (and root_, for
  // a string or binary) at them. root_ must be a copy of other.root_.
  void copy_inline_bytes(const Message& other) noexcept;

  Message(detail::StorageRef storage, const msgpack::object& root,
          std::span<const std::byte> bytes) noexcept
      : storage_(std::move(storage)), root_(root), bytes_(bytes) {}

  // Owns the zone that holds root_'s tree and either holds a copy of the
  // bytes or keeps the caller's buffer alive. Empty for the nil message.
  detail::StorageRef storage_;
  msgpack::object root_;  // NIL by default
  std::span<const std::byte> bytes_ = kNilBytes;
  alignas(8) std::byte inline_bytes_[kInlineBytes] = {};
  // The transferables this message carries, once adopted (shared by copies:
  // each block is handed over once).
  std::shared_ptr<detail::TransferTable> transfers_;
  friend Message detail::message_from_object(const msgpack::object& object);
  friend void detail::decode_message_into(Message&, std::span<const std::byte>,
                                          std::shared_ptr<const void>);
};

namespace detail {

// Types that cannot hold a TransferableTypedData: reading one needs no
// transfer table.
template <class T>
inline constexpr bool holds_no_transferable =
    std::is_arithmetic_v<T> || std::is_same_v<T, std::nullptr_t> ||
    std::is_same_v<T, std::string> || std::is_same_v<T, std::string_view> ||
    std::is_same_v<T, std::span<const std::byte>> || std::is_same_v<T, std::vector<std::uint8_t>>;

// Throws MessageTypeError: "message holds <found>, not <asked>". `cxx_name`
// (a typeid name) explains a mismatch that the friendly names cannot, such as
// an integer out of range for the requested type.
[[noreturn]] void throw_type_mismatch(const msgpack::object& found, const std::string& asked,
                                      const char* cxx_name);

// A Message holding a part of another one (a Message member of a user
// struct); the part is encoded anew.
Message message_from_object(const msgpack::object& object);

// Message::decode into `out` (the runtime decodes into a queue's slot, with no
// move after): `out` is replaced, or, if decoding throws, left as it was.
void decode_message_into(Message& out, std::span<const std::byte> bytes,
                         std::shared_ptr<const void> keep_alive);

// Appends `bytes` to the packer's stream as they are: they are already a
// complete msgpack value.
template <class Stream>
void pack_encoded(msgpack::packer<Stream>& packer, std::span<const std::byte> bytes) {
  // pack_bin_body only appends raw bytes; it is the packer's one public way to do so.
  constexpr std::size_t kChunk = 0x8000'0000;
  while (!bytes.empty()) {
    const std::size_t n = bytes.size() < kChunk ? bytes.size() : kChunk;
    packer.pack_bin_body(reinterpret_cast<const char*>(bytes.data()),
                         static_cast<std::uint32_t>(n));
    bytes = bytes.subspan(n);
  }
}

}  // namespace detail

inline void Message::copy_inline_bytes(const Message& other) noexcept {
  std::memcpy(inline_bytes_, other.inline_bytes_, kInlineBytes);
  bytes_ = std::span<const std::byte>(inline_bytes_, other.bytes_.size());
  // A short string's or binary's characters lie in the inline bytes.
  const auto rebase = [&](const char* at) {
    return reinterpret_cast<const char*>(inline_bytes_) +
           (at - reinterpret_cast<const char*>(other.inline_bytes_));
  };
  if (root_.type == msgpack::type::STR) root_.via.str.ptr = rebase(root_.via.str.ptr);
  if (root_.type == msgpack::type::BIN) root_.via.bin.ptr = rebase(root_.via.bin.ptr);
}

inline Message::Message(const Message& other) noexcept
    : storage_(other.storage_), root_(other.root_), bytes_(other.bytes_),
      transfers_(other.transfers_) {
  if (other.is_inline()) copy_inline_bytes(other);
}

inline Message& Message::operator=(const Message& other) noexcept {
  if (this != &other) *this = Message(other);
  return *this;
}

inline Message::Message(Message&& other) noexcept
    : storage_(std::move(other.storage_)), root_(other.root_), bytes_(other.bytes_),
      transfers_(std::move(other.transfers_)) {
  if (other.is_inline()) copy_inline_bytes(other);
  other.root_ = msgpack::object();
  other.bytes_ = kNilBytes;
}

inline Message& Message::operator=(Message&& other) noexcept {
  if (this != &other) {
    storage_ = std::move(other.storage_);
    root_ = other.root_;
    bytes_ = other.bytes_;
    transfers_ = std::move(other.transfers_);
    if (other.is_inline()) copy_inline_bytes(other);
    other.root_ = msgpack::object();
    other.bytes_ = kNilBytes;
  }
  return *this;
}

template <class T>
T Message::as() const {
  static_assert(detail::Receivable<T>,
                "isolated: Message::as<T>/is<T> cannot produce this type. Pointers, char arrays "
                "and mutable spans can be sent but not received: read a std::string, "
                "std::string_view, std::vector<std::uint8_t> or std::span<const std::byte>; a "
                "struct needs MSGPACK_DEFINE and a default constructor.");
  if constexpr (std::is_same_v<T, Message>) {
    return *this;
  } else if constexpr (detail::Receivable<T>) {
    using traits = detail::value_traits<T>;
    if (!traits::matches(root_, detail::Check::shape)) {
      detail::throw_type_mismatch(root_, traits::name(), typeid(T).name());
    }
    try {
      if constexpr (detail::holds_no_transferable<T>) {
        return root_.as<T>();
      } else {
        // Transferables inside are taken from this message's table.
        const detail::ReadingTransfers reading(transfers_);
        return root_.as<T>();
      }
    } catch (const msgpack::type_error&) {
      // A member of a user struct did not match.
      detail::throw_type_mismatch(root_, traits::name(), typeid(T).name());
    }
  }
}

template <class T>
bool Message::is() const {
  static_assert(detail::Receivable<T>,
                "isolated: Message::as<T>/is<T> cannot produce this type (see Message::as).");
  if constexpr (detail::Receivable<T>) {
    return detail::value_traits<T>::matches(root_, detail::Check::full);
  } else {
    return false;
  }
}

}  // namespace isolated

namespace msgpack {
MSGPACK_API_VERSION_NAMESPACE(MSGPACK_DEFAULT_API_NS) {
namespace adaptor {

// A Message inside another value is written as its own bytes, unchanged.
template <>
struct pack<isolated::Message> {
  template <class Stream>
  packer<Stream>& operator()(packer<Stream>& out, const isolated::Message& message) const {
    isolated::detail::pack_encoded(out, message.bytes());
    return out;
  }
};

template <>
struct convert<isolated::Message> {
  const msgpack::object& operator()(const msgpack::object& in, isolated::Message& message) const {
    message = isolated::detail::message_from_object(in);
    return in;
  }
};

}  // namespace adaptor
}  // MSGPACK_API_VERSION_NAMESPACE(MSGPACK_DEFAULT_API_NS)
}  // namespace msgpack
