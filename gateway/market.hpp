// The market as the gateway sees it: the one interface between the network edge and the exchange behind it.
//
// The server turns frames into these calls after checking who may make them and what they carry; the
// market decides (assigns ids, recognises resends, journals durably) and answers through `done`. Every call
// is made on the server's executor and every `done` must be called there too, exactly once, so the server
// needs no locks. The implementation the daemon uses is exchange/exchange.hpp; tests can stand in their own.
#pragma once

#include <cstdint>
#include <functional>
#include <variant>
#include <vector>

#include "gateway/participants.hpp"
#include "gateway/submission.hpp"
#include "ledger/ledger.hpp"

namespace ewx::gateway {

// An order, offer or cancel the market took: durable in the journal.
struct Accepted {
  std::uint64_t id = 0;    // the exchange's id of the order or offer
  bool duplicate = false;  // a resend of an order or offer accepted before; nothing new was created
};
using Decision = std::variant<Accepted, Rejection>;

struct OpenOrderView {
  wire::Side side = wire::Side::order;
  std::uint64_t id = 0;
  std::uint64_t client_order_id = 0;
  Units remaining = 0;
  Units units = 0;  // as submitted

  // The two states an order or offer has while it is in the book; filled, cancelled and expired ones are not.
  const char* state() const { return remaining < units ? "partially filled" : "open"; }
};

class Market {
 public:
  template <typename T>
  using Done = std::function<void(T)>;

  virtual ~Market() = default;

  // `entry` is a checked order or offer of `who` (gateway/submission.hpp) carrying its client_order_id;
  // the market assigns its id. A resend with a client_order_id `who` used before on the same side is
  // answered with the first one's decision and creates nothing.
  virtual void submit(const Participant& who, ledger::JournalEntry entry, Done<Decision> done) = 0;

  // Cancels `who`'s own open order or offer; anything else is rejected as unknown_id, without saying
  // whether the id exists.
  virtual void cancel(const Participant& who, wire::Side side, std::uint64_t id, Done<Decision> done) = 0;

  virtual void open_orders(const Participant& who, Done<std::vector<OpenOrderView>> done) = 0;

  // Runs `query` where the ledger lives, after every submission made before it, and hands back the frame it
  // built (auditor queries: they read the ledger and answer with one frame).
  using LedgerQuery = std::function<std::vector<std::uint8_t>(const ledger::Ledger&)>;
  virtual void read_ledger(LedgerQuery query, Done<std::vector<std::uint8_t>> done) = 0;
};

}  // namespace ewx::gateway
