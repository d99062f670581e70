// The batch cycle (design in batch_cycle.hpp). Each tick is one object passed from thread to thread, so
// that no state is shared between them: the io thread owns the cycle's counters, the writer thread the
// ledger, and the solver thread only the batch it was handed.
#include "exchange/batch_cycle.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace ewx {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {
std::chrono::microseconds since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
}
}  // namespace

Batch snapshot_book(const ledger::OpenBook& book, std::uint64_t number, Hour hour, bool with_batch,
                    std::vector<ClearedBatch::Expiry>& expired) {
  Batch batch;
  batch.number = number;
  // A book holds a handful of classes, so each order's is found by comparing names along a short list,
  // numbered as first met; once every class is known they are sorted and the batch renumbered.
  std::vector<std::string>& names = batch.resource_classes;
  const auto index_of = [&names](const std::string& name) {
    const auto k = static_cast<std::size_t>(std::find(names.begin(), names.end(), name) - names.begin());
    if (k == names.size()) names.push_back(name);
    return static_cast<ResourceClassIndex>(k);
  };
  // Each side of the book: the expired listed, the rest taken with their remaining units.
  const auto take = [&](const auto& side, auto& listed, bool offers, const auto& placed, const auto& gone) {
    if (with_batch) listed.reserve(side.size());
    for (const auto& [id, open] : side) {
      if (gone(placed(open), hour)) {
        expired.push_back({offers, id, open.participant, open.remaining});
      } else if (with_batch) {
        auto& taken = listed.emplace_back(placed(open));
        taken.units = open.remaining;
        taken.resource_class = index_of(open.resource_class);
        taken.participant = open.participant;
      }
    }
  };
  take(
      book.orders, batch.orders, false, [](const ledger::OpenOrder& o) -> const BuyOrder& { return o.order; },
      order_expired);
  take(
      book.offers, batch.offers, true, [](const ledger::OpenOffer& o) -> const SellOffer& { return o.offer; },
      offer_expired);
  std::vector<std::string> sorted = names;
  std::sort(sorted.begin(), sorted.end());
  if (sorted != names) {
    std::vector<ResourceClassIndex> renumbered(names.size());
    for (std::size_t k = 0; k < names.size(); ++k)
      renumbered[k] =
          static_cast<ResourceClassIndex>(std::find(sorted.begin(), sorted.end(), names[k]) - sorted.begin());
    for (BuyOrder& order : batch.orders) order.resource_class = renumbered[order.resource_class];
    for (SellOffer& offer : batch.offers) offer.resource_class = renumbered[offer.resource_class];
    names = std::move(sorted);
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
    // The batch is what the book holds once the expired are cancelled, so it is taken in the same pass.
    Batch batch = snapshot_book(book, ledger.batch_count() + 1, hour, tick->clear, tick->outcome.expired);
    std::vector<ledger::JournalEntry> expiries;
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
    if (!tick->clear || batch.orders.empty() || batch.offers.empty()) {
      asio::post(io_, [this, tick] { finish(tick); });
      return;
    }
    tick->batch = std::move(batch);
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
