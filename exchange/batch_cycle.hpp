// The batch cycle: close a batch, clear it, record it, tell everyone. The heartbeat of the running exchange.
//
// The market is a call market: orders and offers collect, and every `interval` (or sooner, once
// `batch_size` new ones wait) the whole open book is cleared at once, exactly, and the result recorded. One
// batch is in flight at a time, and it moves through three threads so that intake never waits for a solve:
//
//   io thread        writer thread (the ledger's)          solver thread
//   ---------        ----------------------------          -------------
//   close: hold      expire what has passed; snapshot
//   cancels   -->    the open book as the batch     -->    clear it exactly
//                    commit_batch: contracts, fills,  <--
//   deliver   <--    signed record, one synced write
//   notices, release cancels
//
// Orders and offers keep arriving and being journalled while the batch is solved; they are not in it and
// wait for the next. Cancels are held from the close to the commit (Exchange::hold_cancels), because the
// batch's orders must still be open when its contracts are recorded; a held cancel of an order the batch
// filled is then refused as not open.
//
// Lifecycle. An order is open until it trades (partially filled while it has units left, filled when it has
// none), is cancelled by its owner, or expires: at each close, before the snapshot, the exchange cancels (as
// participant 0, in the journal like any cancel) every order whose delivery window has begun and every offer
// whose availability ends before any order could still be delivered in it. Expiry runs at every tick, even
// when nothing new has arrived; a clearing runs only when something has, since a book that cleared to its
// optimum has no trade left in it until an order or offer joins.
//
// A batch whose commit fails (the disk, say) records nothing, since the commit is one atomic write; its
// orders are still open and the next batch clears them again. The same holds across a crash: the first
// close after start always clears, so a batch lost with the process is cleared again from the journal.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "exchange/exchange.hpp"
#include "gateway/asio.hpp"
#include "ledger/ledger.hpp"
#include "matcher/clearing.hpp"
#include "matcher/topology.hpp"

namespace ewx {

// Clears one batch exactly (CPU or GPU; see ewxd's --solver).
using BatchSolver = std::function<ClearingResult(const Batch&, const Topology&)>;

struct BatchCycleConfig {
  std::chrono::milliseconds interval{500};
  std::size_t batch_size = 100'000;     // close early once this many new orders and offers wait
  BatchSolver solver;                   // default: clear_batch on the CPU
  std::function<std::int64_t()> clock;  // Unix seconds; default: the system clock (tests set their own)
};

// The expiry rule. `hour` is the current hour since the epoch: an order can still be delivered only if its
// window begins in a later hour; an offer is useful only while it can hold such a window, one hour at least.
inline bool order_expired(const BuyOrder& order, Hour hour) { return order.window_begin <= hour; }
inline bool offer_expired(const SellOffer& offer, Hour hour) { return offer.window_end <= hour + 1; }

// What one tick did, delivered on the io thread.
struct ClearedBatch {
  struct Expiry {
    bool offer = false;
    std::uint64_t id = 0;
    ParticipantId participant = 0;
    Units remaining = 0;
  };
  using Fill = ledger::BatchFill;

  std::int64_t closed_at = 0;  // Unix seconds
  std::vector<Expiry> expired;
  bool cleared = false;  // false: only expiries (nothing new to clear), or the batch failed (see error)
  std::string error;     // why the batch recorded nothing, when it failed
  std::uint64_t number = 0;
  std::size_t orders = 0, offers = 0;  // in the batch
  std::optional<ledger::BatchRecord> record;
  std::vector<ledger::ContractRecord> contracts;
  std::vector<Fill> fills;  // orders, then offers, each in id order
  Units units_traded = 0;
  Objective total_surplus = 0;
  std::size_t book_orders = 0, book_offers = 0;  // open after this tick
  std::chrono::microseconds snapshot_time{0}, solve_time{0}, commit_time{0};
};

// The close's one pass over the open book: the orders and offers expired by `hour` go to `expired`, for
// the caller to cancel, and with `with_batch` the rest make batch `number`: every order and offer with its
// remaining units, resource classes named in sorted order, ids ascending (the book's order), so the same
// book always makes the same batch. Expiry first and then a batch of what was left walked the book five
// times: 24 to 28 ms for 110,000 orders and offers, against 13 to 14 ms in one pass (ewxd's snapshot_us in
// bursts by hand, this machine).
Batch snapshot_book(const ledger::OpenBook& book, std::uint64_t number, Hour hour, bool with_batch,
                    std::vector<ClearedBatch::Expiry>& expired);

class BatchCycle {
 public:
  using OnCleared = std::function<void(const ClearedBatch&)>;

  // Uses `exchange`'s writer for the ledger; `on_cleared` runs on `io`'s thread after every tick that did
  // something. Nothing happens until start().
  BatchCycle(boost::asio::io_context& io, Exchange& exchange, const Topology& topology, BatchCycleConfig config,
             OnCleared on_cleared);
  ~BatchCycle();
  BatchCycle(const BatchCycle&) = delete;
  BatchCycle& operator=(const BatchCycle&) = delete;

  void start();
  // No further closes; a batch in flight still completes and is delivered (it keeps io.run() busy).
  void stop();

  // Counts a newly durable order or offer (Exchange::on_accepted calls it).
  void arrived();

  std::uint64_t batches_cleared() const { return batches_cleared_; }
  bool in_flight() const { return in_flight_; }

 private:
  struct Tick;
  void schedule();
  void close();
  void finish(std::shared_ptr<Tick> tick);

  boost::asio::io_context& io_;
  Exchange& exchange_;
  const Topology& topology_;
  BatchCycleConfig config_;
  OnCleared on_cleared_;
  boost::asio::steady_timer timer_;
  boost::asio::thread_pool solver_thread_{1};
  std::size_t waiting_ = 0;  // orders and offers durable since the last close
  // The book has not been cleared since start: after a crash it may hold the orders of a batch that was
  // never recorded, so the first close clears it whether or not anything new has arrived.
  bool unsettled_ = true;
  bool due_ = false;  // the interval has passed since the last close
  bool in_flight_ = false;
  bool stopped_ = true;
  std::uint64_t batches_cleared_ = 0;
};

}  // namespace ewx
