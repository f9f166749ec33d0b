// ReceivePort: a port of this isolate (DESIGN §1, §3.4). Creating one is as
// cheap as allocating an id: every port of a process shares its inbox.
#pragma once

#include <isolated/message.hpp>
#include <isolated/send_port.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <iterator>
#include <optional>

namespace isolated {

class ReceivePort {
 public:
  // Opens a fresh port. Throws isolated::Error if isolated::init() has not
  // run in this process.
  ReceivePort();
  ReceivePort(ReceivePort&& other) noexcept;
  ReceivePort& operator=(ReceivePort&& other) noexcept;
  ReceivePort(const ReceivePort&) = delete;
  ReceivePort& operator=(const ReceivePort&) = delete;
  // Closes the port.
  ~ReceivePort();

  // The address other isolates send to. Throws PortClosed once closed.
  SendPort send_port() const;

  // The next message; blocks. Throws PortClosed once the port is closed (also
  // when it is closed by another thread while this one waits). Not an event:
  // pausing the isolate does not stop it.
  Message receive();
  // As receive(), but nothing after `timeout`.
  std::optional<Message> receive_for(std::chrono::milliseconds timeout);
  // The next message if one is queued; never blocks.
  std::optional<Message> try_receive();
  // The next message; then the port is closed (Dart's `port.first`).
  Message first();

  // Hands every message to `handler` as an event of this isolate: in a
  // worker, on its main thread once the entry returns (it stays alive in its
  // event loop while a listened port is open); in the root isolate, on the
  // runtime's event thread. Messages already queued are handed over too.
  void listen(std::function<void(Message)> handler);

  // Closes the port: queued messages are dropped, later sends return false.
  void close();
  bool closed() const noexcept { return id_ == 0; }

  // A range over the messages, ending when the port is closed:
  //   for (Message m : port.messages()) ...
  class Messages;
  Messages messages();

 private:
  std::uint64_t id_ = 0;
};

class ReceivePort::Messages {
 public:
  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Message;
    using difference_type = std::ptrdiff_t;
    using pointer = const Message*;
    using reference = const Message&;

    iterator() = default;
    explicit iterator(ReceivePort* port) : port_(port) { ++*this; }
    const Message& operator*() const { return *current_; }
    const Message* operator->() const { return &*current_; }
    iterator& operator++();
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& a, const iterator& b) { return a.port_ == b.port_; }

   private:
    ReceivePort* port_ = nullptr;
    std::optional<Message> current_;
  };

  explicit Messages(ReceivePort& port) : port_(&port) {}
  iterator begin() { return iterator(port_); }
  iterator end() { return iterator(); }

 private:
  ReceivePort* port_;
};

inline ReceivePort::Messages ReceivePort::messages() { return Messages(*this); }

}  // namespace isolated
