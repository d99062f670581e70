// The batch cycle (design in batch_cycle.hpp). Each tick is one object passed from thread to thread, so
// that no state is shared between them: the io thread owns the cycle's counters, the writer thread the
// ledger, and the solver thread only the batch it was handed.
#include "exchange/batch_cycle.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>

namespace ewx {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {
std::chrono::microseconds since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
}
}  // namespace

Batch batch_of(const ledger::OpenBook& book, std::uint64_t number) {
  Batch batch;
  batch.number = number;
  // A book holds a handful of classes, so each order's is found by comparing names along a short list
  // rather than in a tree of names; the batch lists them in name order, as ever.
  std::vector<std::string>& names = batch.resource_classes;
  const auto note = [&names](const std::string& name) {
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  };
  for (const auto& [id, o] : book.orders) note(o.resource_class);
  for (const auto& [id, o] : book.offers) note(o.resource_class);
  std::sort(names.begin(), names.end());
  const auto index_of = [&names](const std::string& name) {
    return static_cast<ResourceClassIndex>(std::find(names.begin(), names.end(), name) - names.begin());
  };

  batch.orders.reserve(book.orders.size());
  for (const auto& [id, o] : book.orders) {
    BuyOrder order = o.order;
    order.units = o.remaining;
    order.resource_class = index_of(o.resource_class);
    order.participant = o.participant;
    batch.orders.push_back(order);
  }
  batch.offers.reserve(book.offers.size());
  for (const auto& [id, o] : book.offers) {
    SellOffer offer = o.offer;
    offer.units = o.remaining;
    offer.resource_class = index_of(o.resource_class);
    offer.participant = o.participant;
    batch.offers.push_back(offer);
  }
  return batch;
}

// One tick on its way round the threads.
struct BatchCycle::Tick {
  explicit Tick(asio::io_context& io) : busy(asio::make_work_guard(io)) {}
  asio::executor_work_guard<asio::io_context::executor_type> busy;  // keeps io.run() up until delivered
  bool clear = false;
  std::int64_t now = 0;
  Batch batch;
  ClearingResult clearing;
  ClearedBatch outcome;
};

BatchCycle::BatchCycle(asio::io_context& io, Exchange& exchange, const Topology& topology, BatchCycleConfig config,
                       OnCleared on_cleared)
    : io_(io),
      exchange_(exchange),
      topology_(topology),
      config_(std::move(config)),
      on_cleared_(std::move(on_cleared)),
      timer_(io) {
  if (!config_.solver)
    config_.solver = [](const Batch& batch, const Topology& topology) { return clear_batch(batch, topology); };
  if (!config_.clock) config_.clock = [] { return static_cast<std::int64_t>(std::time(nullptr)); };
}

BatchCycle::~BatchCycle() {
  stop();
  solver_thread_.join();
}

void BatchCycle::start() {
  stopped_ = false;
  schedule();
}

void BatchCycle::stop() {
  stopped_ = true;
  timer_.cancel();
}

void BatchCycle::schedule() {
  timer_.expires_after(config_.interval);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    due_ = true;
    if (!in_flight_) close();
  });
}

void BatchCycle::arrived() {
  ++waiting_;
  if (waiting_ >= config_.batch_size && !in_flight_ && !stopped_) {
    timer_.cancel();
    close();
  }
}

void BatchCycle::close() {
  due_ = false;
  in_flight_ = true;
  auto tick = std::make_shared<Tick>(io_);
  tick->clear = waiting_ > 0 || unsettled_;
  unsettled_ = false;
  tick->now = config_.clock();
  tick->outcome.closed_at = tick->now;
  waiting_ = 0;
  if (tick->clear) exchange_.hold_cancels();
  schedule();

  // On the writer thread: expire, then take the book as the batch.
  exchange_.with_ledger([this, tick](ledger::Ledger& ledger) {
    const auto started = Clock::now();
    const Hour hour = tick->now / 3600;
    const ledger::OpenBook& book = ledger.open_book();
    std::vector<ledger::JournalEntry> expiries;
    for (const auto& [id, o] : book.orders)
      if (order_expired(o.order, hour)) tick->outcome.expired.push_back({false, id, o.participant, o.remaining});
    for (const auto& [id, o] : book.offers)
      if (offer_expired(o.offer, hour)) tick->outcome.expired.push_back({true, id, o.participant, o.remaining});
    for (const auto& x : tick->outcome.expired) {
      ledger::JournalEntry cancel;
      cancel.kind = x.offer ? ledger::JournalEntry::Kind::cancel_offer : ledger::JournalEntry::Kind::cancel_order;
      cancel.id = x.id;
      cancel.participant = 0;  // the exchange
      expiries.push_back(cancel);
    }
    if (!expiries.empty()) {
      if (const ledger::Status s = ledger.journal(expiries); !s.is_ok()) {
        tick->outcome.expired.clear();
        tick->outcome.error = "the expiries could not be journalled: " + s.message();
        tick->clear = false;
      }
    }
    tick->outcome.book_orders = book.orders.size();
    tick->outcome.book_offers = book.offers.size();
    if (!tick->clear || book.orders.empty() || book.offers.empty()) {
      asio::post(io_, [this, tick] { finish(tick); });
      return;
    }
    tick->batch = batch_of(book, ledger.batch_count() + 1);
    tick->outcome.snapshot_time = since(started);

    // On the solver thread: clear it; then back on the writer thread: record it.
    asio::post(solver_thread_, [this, tick] {
      const auto solving = Clock::now();
      tick->clearing = config_.solver(tick->batch, topology_);
      tick->outcome.solve_time = since(solving);
      exchange_.with_ledger([this, tick](ledger::Ledger& ledger) {
        const auto committing = Clock::now();
        ClearedBatch& out = tick->outcome;
        ledger::CommittedBatch committed;
        out.number = tick->batch.number;
        out.orders = tick->batch.orders.size();
        out.offers = tick->batch.offers.size();
        if (tick->clearing.status != SolveStatus::optimal) {
          out.error = "the batch could not be cleared: " + tick->clearing.detail;
        } else if (auto record = ledger.commit_batch(tick->batch, topology_, tick->clearing, tick->now, &committed);
                   !record.is_ok()) {
          out.error = "the batch could not be recorded: " + record.status().message();
        } else {
          out.cleared = true;
          out.record = std::move(record.value());
          out.units_traded = tick->clearing.units_traded;
          out.total_surplus = tick->clearing.total_surplus;
          const ledger::OpenBook& after = ledger.open_book();
          out.book_orders = after.orders.size();
          out.book_offers = after.offers.size();
          out.contracts = std::move(committed.contracts);
          out.fills = std::move(committed.fills);
        }
        out.commit_time = since(committing);
        tick->batch = {};
        tick->clearing = {};
        asio::post(io_, [this, tick] { finish(tick); });
      });
    });
  });
}

void BatchCycle::finish(std::shared_ptr<Tick> tick) {
  in_flight_ = false;
  if (tick->clear) exchange_.release_cancels();
  if (tick->outcome.cleared) ++batches_cleared_;
  if (!tick->outcome.error.empty())
    spdlog::error("event=batch_failed batch={} error=\"{}\"", tick->outcome.number, tick->outcome.error);
  if (tick->outcome.cleared || !tick->outcome.expired.empty() || !tick->outcome.error.empty())
    on_cleared_(tick->outcome);
  // A tick that came due, or a full batch that collected, while this one was in flight closes now.
  if (!stopped_ && (due_ || waiting_ >= config_.batch_size)) {
    timer_.cancel();
    close();
  }
}

}  // namespace ewx
