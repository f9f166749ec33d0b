// The transferables a received message carries. When a message arrives, the
// runtime maps every block it names and unlinks the names at once (so a
// message that is never read, or dropped, leaks nothing); Message::as hands
// a block over from this table, once.
#pragma once

#include <msgpack.hpp>

#include <cstddef>
#include <memory>
#include <span>

namespace isolated::detail {

class TransferTable;

// Unlinks the segments of the transferables in an encoded message that will
// never be delivered (a sender reclaiming its unread frames). Never throws.
void unlink_transfers_in(std::span<const std::byte> encoded) noexcept;

// Maps the blocks `root` names; null if it names none.
std::shared_ptr<TransferTable> adopt_transfers(const msgpack::object& root);

// While alive, `table` is the one take_transferable uses on this thread.
class ReadingTransfers {
 public:
  explicit ReadingTransfers(std::shared_ptr<TransferTable> table) noexcept;
  ~ReadingTransfers();
  ReadingTransfers(const ReadingTransfers&) = delete;
  ReadingTransfers& operator=(const ReadingTransfers&) = delete;

 private:
  std::shared_ptr<TransferTable> previous_;
};

// The table of the message being read on this thread, if any.
std::shared_ptr<TransferTable> reading_transfers() noexcept;

}  // namespace isolated::detail
