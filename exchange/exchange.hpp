// The exchange behind the gateway: the market interface (gateway/market.hpp) over the ledger's single
// writer (ledger/ledger_writer.hpp).
//
// It decides what the gateway cannot decide alone: the exchange's id for each new order and offer, whether
// a submission is a resend (same participant, side and client_order_id as one accepted before: answered with
// the first one's id, nothing created, even across a restart, since client order ids are in the journal),
// and when an order is durable (its group's synced write has returned). Cancels and queries go to the
// writer too, which owns the open book, so a participant cancels exactly its own open orders.
//
// Threads: every call and every answer on the server's io_context thread, where the id counters and the
// map of client order ids live without locks; the writer thread only writes and reads the ledger and
// posts answers back.
#pragma once

#include <filesystem>
#include <memory>
#include <unordered_map>

#include "gateway/asio.hpp"
#include "gateway/market.hpp"
#include "ledger/ledger_writer.hpp"

namespace ewx {

class Exchange final : public gateway::Market {
 public:
  // Opens the ledger in `data_dir` (initialising it when `create` and it is new or empty) and reads its
  // journal for the ids and client order ids already taken. Answers are delivered on `io`.
  static ledger::Result<std::unique_ptr<Exchange>> open(const std::filesystem::path& data_dir, bool create,
                                                        boost::asio::io_context& io);
  ~Exchange() override;

  void submit(const gateway::Participant& who, ledger::JournalEntry entry, Done<gateway::Decision> done) override;
  void cancel(const gateway::Participant& who, wire::Side side, std::uint64_t id,
              Done<gateway::Decision> done) override;
  void open_orders(const gateway::Participant& who, Done<std::vector<gateway::OpenOrderView>> done) override;
  void read_ledger(LedgerQuery query, Done<std::vector<std::uint8_t>> done) override;

  // Runs `task` on the writer thread with the ledger to itself, after everything handed over before it.
  void with_ledger(std::function<void(ledger::Ledger&)> task) { writer_->run(std::move(task)); }

  // Finishes everything handed to the writer, then stops it. Call after the server has stopped.
  void stop() { writer_->stop(); }

  // While a batch is being cleared its orders and offers must stay open until its contracts are recorded,
  // so cancels are held from the batch's close (hold_cancels) until its commit (release_cancels), then
  // journalled in the order they came. A cancel of an order the batch filled completely is then refused
  // as not open, as it would have been had it arrived a moment later.
  void hold_cancels() { holding_cancels_ = true; }
  void release_cancels();

  // Called on the io thread each time an order or offer becomes durable (the batch cycle counts them to
  // close a batch early when enough wait).
  void on_accepted(std::function<void()> hook) { on_accepted_ = std::move(hook); }

  struct Counters {
    std::uint64_t orders_accepted = 0;
    std::uint64_t offers_accepted = 0;
    std::uint64_t cancels_accepted = 0;
    std::uint64_t resends = 0;
    std::uint64_t refused = 0;
  };
  const Counters& counters() const { return counters_; }  // on the io thread
  const ledger::LedgerWriter& writer() const { return *writer_; }

 private:
  explicit Exchange(boost::asio::io_context& io) : io_(io) {}

  // A client order id, scoped to its participant and side.
  struct ClientKey {
    ParticipantId account = 0;
    bool offer = false;
    std::uint64_t client_order_id = 0;
    bool operator==(const ClientKey&) const = default;
  };
  struct ClientKeyHash {
    std::size_t operator()(const ClientKey& k) const {
      return std::hash<std::uint64_t>()(k.client_order_id * 0x9e3779b97f4a7c15ull ^ (k.account << 1 | k.offer));
    }
  };
  struct Known {
    std::uint64_t id = 0;
    std::uint64_t tag = 0;  // the pending journal write that carries it; 0 once durable
  };
  // A journal entry handed to the writer and not yet answered.
  struct Pending {
    Done<gateway::Decision> done;
    std::uint64_t id = 0;
    std::optional<ClientKey> key;                  // submissions
    std::vector<Done<gateway::Decision>> resends;  // resends that arrived before it was durable
  };

  void journalled(std::uint64_t tag, const std::optional<std::string>& refusal, bool io_error);
  std::uint64_t hand_over(ledger::JournalEntry entry, Pending pending);

  boost::asio::io_context& io_;
  std::unique_ptr<ledger::LedgerWriter> writer_;
  OrderId next_order_id_ = 1;
  OfferId next_offer_id_ = 1;
  std::unordered_map<ClientKey, Known, ClientKeyHash> known_;
  std::unordered_map<std::uint64_t, Pending> pending_;
  std::uint64_t next_tag_ = 1;
  Counters counters_;
  bool holding_cancels_ = false;
  std::vector<std::pair<ledger::JournalEntry, Pending>> held_cancels_;
  std::function<void()> on_accepted_;
};

}  // namespace ewx
