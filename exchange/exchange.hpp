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
// posts answers back (and the map's builder only copies tables the io thread no longer changes).
//
// Speed: at a million submissions a second the io thread's own bookkeeping was the bottleneck (a node-based
// hash map of client order ids, a cache miss and a division per probe, and a second map of entries waiting
// for the disk). The client order ids are now in an open-addressing table (Abseil's flat_hash_map) whose
// hash keeps a trader's consecutive ids in neighbouring slots and that grows on a thread of its own
// (client_order_ids.hpp), and the waiting entries in a queue: the
// writer answers in the order it was handed work, so the oldest waiting entry is always the next answered,
// and an entry is durable exactly when its tag is older than the oldest still waiting, which spares a
// second lookup per acknowledgment.
#pragma once

#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>

#include "exchange/client_order_ids.hpp"
#include "exchange/metrics.hpp"
#include "gateway/asio.hpp"
#include "gateway/market.hpp"
#include "ledger/ledger_writer.hpp"

namespace ewx {

class Exchange final : public gateway::Market {
 public:
  // Opens the ledger in `data_dir` (initialising it when `create` and it is new or empty) and reads its
  // journal for the ids and client order ids already taken. Answers are delivered on `io`.
  static ledger::Result<std::unique_ptr<Exchange>> open(const std::filesystem::path& data_dir, bool create,
                                                        boost::asio::io_context& io,
                                                        const ledger::Ledger::Options& ledger_options = {});
  ~Exchange() override;

  void submit(const gateway::Participant& who, ledger::JournalEntry entry, Done<gateway::Decision> done) override;
  void cancel(const gateway::Participant& who, wire::Side side, std::uint64_t id,
              Done<gateway::Decision> done) override;
  void open_orders(const gateway::Participant& who, Done<std::vector<gateway::OpenOrderView>> done) override;
  void read_ledger(LedgerQuery query, Done<std::vector<std::uint8_t>> done) override;

  // Runs `task` on the writer thread with the ledger to itself, after every submission and cancel made
  // before it. Callable from any thread (the batch cycle records a batch from its solver thread).
  void with_ledger(std::function<void(ledger::Ledger&)> task);

  // Finishes everything handed to the writer, then stops it. Call after the server has stopped.
  void stop();

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
    LatencyHistogram journal_sync;  // each sync of the journal: what an acknowledgment waits for at least
    // Each submission and cancel, from its hand-over to the journal (taken on the io thread, in the wake-up
    // that read it) to its durable answer back on the io thread: what ewxd itself adds to an
    // acknowledgment, less the socket's queues on either side.
    LatencyHistogram intake_to_durable;
  };
  const Counters& counters() const { return counters_; }  // on the io thread
  const ledger::LedgerWriter& writer() const { return *writer_; }
  const ClientOrderIds& client_order_ids() const { return known_; }  // on the io thread

 private:
  explicit Exchange(boost::asio::io_context& io) : io_(io) {}

  using ClientKey = ClientOrderIds::Key;
  using Known = ClientOrderIds::Known;
  // A journal entry handed to the writer and not yet answered.
  struct Pending {
    Done<gateway::Decision> done;
    std::uint64_t id = 0;
    std::optional<ClientKey> key;                  // submissions
    std::vector<Done<gateway::Decision>> resends;  // resends that arrived before it was durable
  };
  // What the writer made of a group of consecutive entries: each is durable, but for those refused.
  struct GroupAnswer {
    std::uint64_t first_tag = 0;
    std::size_t count = 0;
    std::vector<std::pair<std::size_t, std::string>> refusals;  // (position in the group, why)
    bool io_error = false;
    std::optional<std::chrono::microseconds> sync_time;
  };

  void journalled(const GroupAnswer& group);
  void hand_staged_over();
  void answer(Pending& pending, const std::string* refusal, bool io_error);
  std::uint64_t hand_over(ledger::JournalEntry entry, Pending pending);
  bool durable(const Known& known) const { return known.tag < first_waiting_tag_; }

  boost::asio::io_context& io_;
  std::unique_ptr<ledger::LedgerWriter> writer_;
  OrderId next_order_id_ = 1;
  OfferId next_offer_id_ = 1;
  ClientOrderIds known_;
  std::deque<Pending> waiting_;  // tags first_waiting_tag_, first_waiting_tag_ + 1, ...
  std::uint64_t first_waiting_tag_ = 1;
  // Entries not yet handed to the writer: the last of waiting_, collected while the io thread handles what
  // one wake-up brought (every frame of every connection read), and handed over together when it is done.
  // One handover wakes the writer once; an append per order woke it for nearly every order at 100,000 a
  // second, each wake-up a switch of threads that costs this virtual machine tens of microseconds. Under
  // a lock of their own, since with_ledger hands them over from whichever thread calls it.
  std::mutex staged_mutex_;
  std::vector<ledger::JournalEntry> staged_;
  std::uint64_t staged_first_tag_ = 0;
  // When each run of staged entries began (its first tag, the time): one clock reading a wake-up, and one
  // per answered group, however many entries they carry. On the io thread.
  std::deque<std::pair<std::uint64_t, std::chrono::steady_clock::time_point>> staged_at_;
  Counters counters_;
  bool holding_cancels_ = false;
  std::vector<std::pair<ledger::JournalEntry, Pending>> held_cancels_;
  std::function<void()> on_accepted_;
};

}  // namespace ewx
