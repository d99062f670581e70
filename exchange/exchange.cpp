// The exchange's decisions (design in exchange.hpp). The one subtle case is a resend that arrives while the
// first submission is still on its way to disk: it must not be acknowledged before the first is durable,
// and must share its fate if the write fails, so it waits on the first one's pending entry.
#include "exchange/exchange.hpp"

#include "gateway/asio.hpp"

namespace ewx {

namespace asio = boost::asio;
using gateway::Accepted;
using gateway::Decision;
using gateway::Rejection;

ledger::Result<std::unique_ptr<Exchange>> Exchange::open(const std::filesystem::path& data_dir, bool create,
                                                         asio::io_context& io) {
  auto opened = ledger::Ledger::open(data_dir, create);
  if (!opened.is_ok()) return opened.status();
  std::unique_ptr<ledger::Ledger> ledger = std::move(opened.value());

  std::unique_ptr<Exchange> exchange(new Exchange(io));
  Exchange& x = *exchange;
  std::string unreadable;
  const auto scanned = ledger->scan(ledger::Ledger::Stored::journal, [&](std::uint64_t key, std::string_view value) {
    const auto entry = ledger::decode_journal_entry(value);
    if (!entry) {
      unreadable = "journal entry " + std::to_string(key) + " is unreadable";
      return false;
    }
    using Kind = ledger::JournalEntry::Kind;
    if (entry->kind == Kind::order) {
      x.next_order_id_ = std::max(x.next_order_id_, entry->order.id + 1);
      x.known_[{entry->participant, false, entry->client_order_id}] = {entry->order.id, 0};
    } else if (entry->kind == Kind::offer) {
      x.next_offer_id_ = std::max(x.next_offer_id_, entry->offer.id + 1);
      x.known_[{entry->participant, true, entry->client_order_id}] = {entry->offer.id, 0};
    }
    return true;
  });
  if (!scanned.is_ok()) return scanned;
  if (!unreadable.empty()) return ledger::Status::error(ledger::Status::Code::corruption, unreadable);

  // The writer reports each group on its own thread; the answers are delivered on the io thread in one post.
  Exchange* self = exchange.get();
  x.writer_ = std::make_unique<ledger::LedgerWriter>(
      std::move(ledger), [self](const ledger::LedgerWriter::GroupOutcome& group) {
        std::vector<std::pair<std::uint64_t, std::optional<std::string>>> outcome;
        outcome.reserve(group.tags.size());
        for (std::size_t k = 0; k < group.tags.size(); ++k) outcome.emplace_back(group.tags[k], group.refusals[k]);
        asio::post(self->io_, [self, outcome = std::move(outcome), io_error = !group.status.is_ok()] {
          for (const auto& [tag, refusal] : outcome) self->journalled(tag, refusal, io_error);
        });
      });
  return exchange;
}

Exchange::~Exchange() {
  if (writer_) writer_->stop();
}

std::uint64_t Exchange::hand_over(ledger::JournalEntry entry, Pending pending) {
  const std::uint64_t tag = next_tag_++;
  pending_.emplace(tag, std::move(pending));
  writer_->append(std::move(entry), tag);
  return tag;
}

void Exchange::submit(const gateway::Participant& who, ledger::JournalEntry entry, Done<Decision> done) {
  const bool offer = entry.kind == ledger::JournalEntry::Kind::offer;
  const auto [known, is_new] = known_.try_emplace(ClientKey{who.account, offer, entry.client_order_id});
  if (!is_new) {
    ++counters_.resends;
    if (known->second.tag == 0) return done(Accepted{known->second.id, true});
    pending_.at(known->second.tag).resends.push_back(std::move(done));
    return;
  }
  const std::uint64_t id = offer ? next_offer_id_++ : next_order_id_++;
  (offer ? entry.offer.id : entry.order.id) = id;
  entry.id = id;
  entry.participant = who.account;
  known->second = Known{id, hand_over(std::move(entry), Pending{std::move(done), id, known->first, {}})};
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

void Exchange::journalled(std::uint64_t tag, const std::optional<std::string>& refusal, bool io_error) {
  auto found = pending_.find(tag);
  Pending pending = std::move(found->second);
  pending_.erase(found);
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
      known_.at(*pending.key).tag = 0;
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
  writer_->run([this, account = who.account, done = std::move(done)](ledger::Ledger& ledger) mutable {
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
  writer_->run([this, query = std::move(query), done = std::move(done)](ledger::Ledger& ledger) mutable {
    auto frame = query(ledger);
    asio::post(io_, [done = std::move(done), frame = std::move(frame)]() mutable { done(std::move(frame)); });
  });
}

}  // namespace ewx
