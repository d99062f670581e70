// Submission checks. Everything a participant sends is checked here before anything is written: the role
// (enterprises bid, providers offer), the hub or cluster against the topology in force, the resource class
// name, and the limits every order and offer obeys wherever it comes from (matcher/order_rules.hpp), so a
// Reject's reason is the same sentence a batch file with the same mistake would get.
#include "gateway/submission.hpp"

#include <limits>

#include "matcher/line_scanner.hpp"
#include "matcher/order_rules.hpp"

namespace ewx::gateway {
namespace {

Rejection reject(wire::RejectCode code, std::string reason) { return {code, std::move(reason)}; }

// "a, b, c": the keys a participant could have meant.
template <typename Places>
std::string keys_of(const Places& places) {
  std::string keys;
  for (const auto& place : places) keys += (keys.empty() ? "" : ", ") + place.key;
  return keys;
}

std::optional<Rejection> resource_class_rejection(const flatbuffers::String* name) {
  if (!name) return reject(wire::RejectCode::malformed, "resource_class: missing");
  if (const auto problem = resource_class_problem(name->string_view()))
    return reject(wire::RejectCode::malformed, *problem);
  return std::nullopt;
}

}  // namespace

Submission order_entry(const wire::SubmitOrder& request, const Participant& who, OrderId id, const Topology& topology) {
  if (who.role != Role::enterprise) return reject(wire::RejectCode::forbidden, "only enterprises place buy orders");
  if (!request.hub()) return reject(wire::RejectCode::malformed, "hub: missing");
  const auto hub = topology.find_hub(request.hub()->string_view());
  if (!hub)
    return reject(wire::RejectCode::unknown_hub_or_cluster,
                  "unknown hub " + quoted(request.hub()->string_view()) + " (hubs: " + keys_of(topology.hubs) + ")");
  if (auto rejection = resource_class_rejection(request.resource_class())) return *rejection;

  ledger::JournalEntry entry;
  entry.kind = ledger::JournalEntry::Kind::order;
  entry.participant = who.account;
  entry.resource_class = request.resource_class()->str();
  BuyOrder& order = entry.order;
  order.id = id;
  order.hub = *hub;
  order.units = request.units();
  order.bid = request.bid();
  order.max_latency_ms = request.max_latency_ms();
  order.min_green_percent = request.min_green_percent();
  order.window_begin = request.window_begin();
  order.window_end = request.window_end();
  order.participant = who.account;
  if (const auto problem = order_problem(order)) return reject(wire::RejectCode::malformed, *problem);
  return entry;
}

Submission offer_entry(const wire::SubmitOffer& request, const Participant& who, OfferId id, const Topology& topology) {
  if (who.role != Role::provider) return reject(wire::RejectCode::forbidden, "only providers post capacity offers");
  if (!request.cluster()) return reject(wire::RejectCode::malformed, "cluster: missing");
  const auto cluster = topology.find_cluster(request.cluster()->string_view());
  if (!cluster)
    return reject(wire::RejectCode::unknown_hub_or_cluster, "unknown cluster " +
                                                                quoted(request.cluster()->string_view()) +
                                                                " (clusters: " + keys_of(topology.clusters) + ")");
  if (auto rejection = resource_class_rejection(request.resource_class())) return *rejection;

  ledger::JournalEntry entry;
  entry.kind = ledger::JournalEntry::Kind::offer;
  entry.participant = who.account;
  entry.resource_class = request.resource_class()->str();
  SellOffer& offer = entry.offer;
  offer.id = id;
  offer.cluster = *cluster;
  offer.units = request.units();
  offer.ask = request.ask();
  offer.green_percent = request.green_percent();
  offer.window_begin = request.window_begin();
  offer.window_end = request.window_end();
  offer.participant = who.account;
  if (const auto problem = offer_problem(offer)) return reject(wire::RejectCode::malformed, *problem);
  return entry;
}

}  // namespace ewx::gateway
