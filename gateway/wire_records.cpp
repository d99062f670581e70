// Field-by-field conversions (declared and explained in wire_records.hpp). A missing string or vector in a
// verified table reads as empty: the Verifier has already guaranteed that whatever is present is in bounds.
#include "gateway/wire_records.hpp"

#include <algorithm>

namespace ewx::gateway {
namespace {

std::string text(const flatbuffers::String* s) { return s ? s->str() : std::string(); }

std::string bytes_text(const flatbuffers::Vector<std::uint8_t>* v) {
  return v ? std::string(v->begin(), v->end()) : std::string();
}

flatbuffers::Offset<flatbuffers::Vector<std::uint8_t>> bytes(flatbuffers::FlatBufferBuilder& b, std::string_view s) {
  return b.CreateVector(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}

flatbuffers::Offset<flatbuffers::Vector<std::uint8_t>> bytes(flatbuffers::FlatBufferBuilder& b, const ledger::Hash& h) {
  return b.CreateVector(h.data(), h.size());
}

}  // namespace

std::optional<ledger::Hash> hash_from_wire(const flatbuffers::Vector<std::uint8_t>* v) {
  if (!v || v->size() != 32) return std::nullopt;
  ledger::Hash h;
  std::copy(v->begin(), v->end(), h.begin());
  return h;
}

flatbuffers::Offset<wire::SubmitOrder> to_wire(flatbuffers::FlatBufferBuilder& b, const OrderRequest& o) {
  const auto hub = b.CreateString(o.hub);
  const auto resource_class = b.CreateString(o.resource_class);
  return wire::CreateSubmitOrder(b, o.client_order_id, hub, resource_class, o.units, o.bid, o.max_latency_ms,
                                 o.min_green_percent, o.window_begin, o.window_end);
}

flatbuffers::Offset<wire::SubmitOffer> to_wire(flatbuffers::FlatBufferBuilder& b, const OfferRequest& o) {
  const auto cluster = b.CreateString(o.cluster);
  const auto resource_class = b.CreateString(o.resource_class);
  return wire::CreateSubmitOffer(b, o.client_order_id, cluster, resource_class, o.units, o.ask, o.green_percent,
                                 o.window_begin, o.window_end);
}

flatbuffers::Offset<wire::ContractRecord> to_wire(flatbuffers::FlatBufferBuilder& b, const ledger::ContractRecord& c) {
  const auto resource_class = b.CreateString(c.resource_class);
  return wire::CreateContractRecord(b, c.id, c.batch, c.order, c.offer, c.buyer, c.seller, c.units, c.price,
                                    c.transfer_charge, c.hub, c.cluster, resource_class, c.window_begin, c.window_end);
}

ledger::ContractRecord from_wire(const wire::ContractRecord& w) {
  ledger::ContractRecord c;
  c.id = w.id();
  c.batch = w.batch();
  c.order = w.order();
  c.offer = w.offer();
  c.buyer = w.buyer();
  c.seller = w.seller();
  c.units = w.units();
  c.price = w.price();
  c.transfer_charge = w.transfer_charge();
  c.hub = w.hub();
  c.cluster = w.cluster();
  c.resource_class = text(w.resource_class());
  c.window_begin = w.window_begin();
  c.window_end = w.window_end();
  return c;
}

flatbuffers::Offset<wire::BatchResult> to_wire(flatbuffers::FlatBufferBuilder& b, const ledger::BatchRecord& r) {
  std::vector<flatbuffers::Offset<wire::OfferPrice>> prices;
  prices.reserve(r.prices.size());
  for (const auto& [offer, price] : r.prices) prices.push_back(wire::CreateOfferPrice(b, offer, price));
  const auto root = bytes(b, r.log_root);
  const auto previous = bytes(b, r.previous_record);
  const auto inputs = bytes(b, r.inputs);
  const auto surplus = b.CreateString(r.total_surplus);
  const auto price_vector = b.CreateVector(prices);
  const auto signature = bytes(b, r.signature);
  return wire::CreateBatchResult(b, r.number, r.cleared_at, r.first_contract, r.contract_count, r.log_size, root,
                                 previous, inputs, surplus, price_vector, signature);
}

ledger::BatchRecord from_wire(const wire::BatchResult& w) {
  ledger::BatchRecord r;
  r.number = w.number();
  r.cleared_at = w.cleared_at();
  r.first_contract = w.first_contract();
  r.contract_count = w.contract_count();
  r.log_size = w.log_size();
  r.log_root = hash_from_wire(w.log_root()).value_or(ledger::Hash{});
  r.previous_record = hash_from_wire(w.previous_record()).value_or(ledger::Hash{});
  r.inputs = hash_from_wire(w.inputs()).value_or(ledger::Hash{});
  r.total_surplus = text(w.total_surplus());
  if (w.prices())
    for (const wire::OfferPrice* p : *w.prices()) r.prices.emplace_back(p->offer(), p->price());
  r.signature = bytes_text(w.signature());
  return r;
}

flatbuffers::Offset<wire::HeadResult> to_wire(flatbuffers::FlatBufferBuilder& b, const HeadView& v) {
  const auto root = bytes(b, v.head.log_root);
  const auto signature = bytes(b, v.head.signature);
  const auto key = bytes(b, v.public_key);
  return wire::CreateHeadResult(b, v.head.batch, v.head.log_size, root, v.head.cleared_at, signature, key);
}

HeadView from_wire(const wire::HeadResult& w) {
  HeadView v;
  v.head.batch = w.batch();
  v.head.log_size = w.log_size();
  v.head.log_root = hash_from_wire(w.log_root()).value_or(ledger::Hash{});
  v.head.cleared_at = w.cleared_at();
  v.head.signature = bytes_text(w.signature());
  v.public_key = bytes_text(w.public_key());
  return v;
}

flatbuffers::Offset<wire::BatchCleared> to_wire(flatbuffers::FlatBufferBuilder& b, const BatchSummary& s) {
  const auto surplus = b.CreateString(s.total_surplus);
  const auto root = bytes(b, s.log_root);
  return wire::CreateBatchCleared(b, s.number, s.cleared_at, s.orders, s.offers, s.contracts, s.units, surplus,
                                  s.log_size, root);
}

BatchSummary from_wire(const wire::BatchCleared& w) {
  BatchSummary s;
  s.number = w.number();
  s.cleared_at = w.cleared_at();
  s.orders = w.orders();
  s.offers = w.offers();
  s.contracts = w.contracts();
  s.units = w.units();
  s.total_surplus = text(w.total_surplus());
  s.log_size = w.log_size();
  s.log_root = hash_from_wire(w.log_root()).value_or(ledger::Hash{});
  return s;
}

}  // namespace ewx::gateway
