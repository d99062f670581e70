// The exchange's decisions (design in exchange.hpp). The one subtle case is a resend that arrives while the
// first submission is still on its way to disk: it must not be acknowledged before the first is durable,
// and must share its fate if the write fails, so it waits on the first one's pending entry.
#include "exchange/exchange.hpp"

#include <cstdio>
#include <cstdlib>

#include "gateway/asio.hpp"

namespace ewx {

namespace asio = boost::asio;
using gateway::Accepted;
using gateway::Decision;
using gateway::Rejection;

ledger::Result<std::unique_ptr<Exchange>> Exchange::open(const std::filesystem::path& data_dir, bool create,
                                                         asio::io_context& io,
                                                         const ledger::Ledger::Options& ledger_options) {
  auto opened = ledger::Ledger::open(data_dir, create, ledger_options);
  if (!opened.is_ok()) return opened.status();
  std::unique_ptr<ledger::Ledger> ledger = std::move(opened.value());

  std::unique_ptr<Exchange> exchange(new Exchange(io));
  Exchange& x = *exchange;
  // Each client order id is in the journal once (a resend is answered, not journalled).
  const auto remember = [&](const ledger::JournalEntry& entry, bool offer, std::uint64_t id) {
    if (Known* added = x.known_.find_or_add({entry.participant, offer, entry.client_order_id}).added)
      *added = Known{id, 0};
  };
  const auto scanned = ledger->scan_journal([&](std::uint64_t, const ledger::JournalEntry& entry) {
    using Kind = ledger::JournalEntry::Kind;
    if (entry.kind == Kind::order) {
      x.next_order_id_ = std::max(x.next_order_id_, entry.order.id + 1);
      remember(entry, false, entry.order.id);
    } else if (entry.kind == Kind::offer) {
      x.next_offer_id_ = std::max(x.next_offer_id_, entry.offer.id + 1);
      remember(entry, true, entry.offer.id);
    }
    return true;
  });
  if (!scanned.is_ok()) return scanned;

  // Room for the day's new client order ids beside those already taken, so that the table seldom grows (a
  // growth moves every entry, on the io thread).
  x.known_.reserve(std::max<std::size_t>(2 * x.known_.size(), std::size_t{1} << 21));

  // The writer reports each group on its own thread; the answers are delivered on the io thread in one post.
  // A group's tags are consecutive: tags are given in the order entries are handed to the writer, which
  // writes them in that order, a run of them at a time.
  Exchange* self = exchange.get();
  x.writer_ = std::make_unique<ledger::LedgerWriter>(
      std::move(ledger), [self](const ledger::LedgerWriter::GroupOutcome& group) {
        GroupAnswer answer{group.tags.front(), group.tags.size(), {}, !group.status.is_ok(), group.sync_time};
        for (std::size_t k = 0; k < group.tags.size(); ++k) {
          if (group.tags[k] != answer.first_tag + k) {
            std::fprintf(stderr, "ewx: journal answers out of order (tag %llu at %zu of a group from %llu)\n",
                         static_cast<unsigned long long>(group.tags[k]), k,
                         static_cast<unsigned long long>(answer.first_tag));
            std::abort();
          }
          if (group.refusals[k]) answer.refusals.emplace_back(k, *group.refusals[k]);
        }
        asio::post(self->io_, [self, answer = std::move(answer)] { self->journalled(answer); });
      });
  return exchange;
}

Exchange::~Exchange() {
  if (writer_) stop();
}

void Exchange::stop() {
  hand_staged_over();
  writer_->stop();
}

void Exchange::with_ledger(std::function<void(ledger::Ledger&)> task) {
  std::lock_guard lock(staged_mutex_);  // nothing staged meanwhile may slip in before the task
  if (!staged_.empty()) writer_->append(staged_, staged_first_tag_);
  writer_->run(std::move(task));
}

std::uint64_t Exchange::hand_over(ledger::JournalEntry entry, Pending pending) {
  const std::uint64_t tag = first_waiting_tag_ + waiting_.size();
  waiting_.push_back(std::move(pending));
  std::lock_guard lock(staged_mutex_);
  if (staged_.empty()) {
    staged_first_tag_ = tag;
    staged_at_.emplace_back(tag, std::chrono::steady_clock::now());
    asio::post(io_, [this] { hand_staged_over(); });
  }
  staged_.push_back(std::move(entry));
  return tag;
}

void Exchange::hand_staged_over() {
  std::lock_guard lock(staged_mutex_);
  if (!staged_.empty()) writer_->append(staged_, staged_first_tag_);
}

void Exchange::submit(const gateway::Participant& who, ledger::JournalEntry entry, Done<Decision> done) {
  const bool offer = entry.kind == ledger::JournalEntry::Kind::offer;
  const ClientKey key{who.account, offer, entry.client_order_id};
  const auto [known, added] = known_.find_or_add(key);
  if (known) {
    ++counters_.resends;
    if (durable(*known)) return done(Accepted{known->id, true});
    waiting_[known->tag - first_waiting_tag_].resends.push_back(std::move(done));
    return;
  }
  const std::uint64_t id = offer ? next_offer_id_++ : next_order_id_++;
  (offer ? entry.offer.id : entry.order.id) = id;
  entry.id = id;
  entry.participant = who.account;
  *added = Known{id, hand_over(std::move(entry), Pending{std::move(done), id, key, {}})};
}

void Exchange::cancel(const gateway::Participant& who, wire::Side side, std::uint64_t id, Done<Decision> done) {
  ledger::JournalEntry entry;
  entry.kind =
      side == wire::Side::order ? ledger::JournalEntry::Kind::cancel_order : ledger::JournalEntry::Kind::cancel_offer;
  entry.id = id;
  entry.participant = who.account;  // the ledger refuses a cancel of anything this participant does not own
  Pending pending{std::move(done), id, std::nullopt, {}};
  if (holding_cancels_)
    held_cancels_.emplace_back(std::move(entry), std::move(pending));
  else
    hand_over(std::move(entry), std::move(pending));
}

void Exchange::release_cancels() {
  holding_cancels_ = false;
  for (auto& [entry, pending] : held_cancels_) hand_over(std::move(entry), std::move(pending));
  held_cancels_.clear();
}

void Exchange::journalled(const GroupAnswer& group) {
  if (group.first_tag != first_waiting_tag_ || group.count > waiting_.size()) {
    std::fprintf(stderr, "ewx: journal answer for tag %llu while tag %llu waits\n",
                 static_cast<unsigned long long>(group.first_tag), static_cast<unsigned long long>(first_waiting_tag_));
    std::abort();
  }
  if (group.sync_time) counters_.journal_sync.observe(*group.sync_time);
  const auto now = std::chrono::steady_clock::now();
  auto refusal = group.refusals.begin();
  for (std::size_t k = 0; k < group.count; ++k) {
    while (staged_at_.size() > 1 && staged_at_[1].first <= first_waiting_tag_) staged_at_.pop_front();
    counters_.intake_to_durable.observe(
        std::chrono::duration_cast<std::chrono::microseconds>(now - staged_at_.front().second));
    // Off the queue first, so that a resend arriving from inside an answer sees this entry as decided.
    Pending pending = std::move(waiting_.front());
    waiting_.pop_front();
    ++first_waiting_tag_;
    const bool refused = refusal != group.refusals.end() && refusal->first == k;
    answer(pending, refused ? &refusal->second : nullptr, group.io_error);
    if (refused) ++refusal;
  }
}

void Exchange::answer(Pending& pending, const std::string* refusal, bool io_error) {
  const bool submission = pending.key.has_value();
  Decision decision;
  if (refusal) {
    ++counters_.refused;
    // A submission is refused only when the journal write failed; a cancel also when the order is not the
    // participant's or not open.
    decision = Rejection{io_error || submission ? wire::RejectCode::internal_error : wire::RejectCode::unknown_id,
                         io_error ? "the journal could not be written: " + *refusal : *refusal};
    if (submission) known_.erase(*pending.key);
  } else {
    decision = Accepted{pending.id, false};
    if (submission) {
      ++(pending.key->offer ? counters_.offers_accepted : counters_.orders_accepted);
      if (on_accepted_) on_accepted_();
    } else {
      ++counters_.cancels_accepted;
    }
  }
  pending.done(decision);
  if (auto* accepted = std::get_if<Accepted>(&decision)) accepted->duplicate = true;
  for (auto& resend : pending.resends) resend(decision);
}

void Exchange::open_orders(const gateway::Participant& who, Done<std::vector<gateway::OpenOrderView>> done) {
  with_ledger([this, account = who.account, done = std::move(done)](ledger::Ledger& ledger) mutable {
    std::vector<gateway::OpenOrderView> open;
    const ledger::OpenBook& book = ledger.open_book();
    for (const auto& [id, o] : book.orders)
      if (o.participant == account)
        open.push_back({wire::Side::order, id, o.client_order_id, o.remaining, o.order.units});
    for (const auto& [id, o] : book.offers)
      if (o.participant == account)
        open.push_back({wire::Side::offer, id, o.client_order_id, o.remaining, o.offer.units});
    asio::post(io_, [done = std::move(done), open = std::move(open)]() mutable { done(std::move(open)); });
  });
}

void Exchange::read_ledger(LedgerQuery query, Done<std::vector<std::uint8_t>> done) {
  with_ledger([this, query = std::move(query), done = std::move(done)](ledger::Ledger& ledger) mutable {
    auto frame = query(ledger);
    asio::post(io_, [done = std::move(done), frame = std::move(frame)]() mutable { done(std::move(frame)); });
  });
}

}  // namespace ewx
