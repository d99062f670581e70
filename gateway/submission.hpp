// From a participant's SubmitOrder / SubmitOffer frame to the journal entry the exchange writes, or to the
// Reject it answers with.
#pragma once

#include <string>
#include <variant>

#include "gateway/frame.hpp"
#include "gateway/participants.hpp"
#include "ledger/records.hpp"
#include "matcher/topology.hpp"

namespace ewx::gateway {

struct Rejection {
  wire::RejectCode code = wire::RejectCode::malformed;
  std::string reason;  // names the field and what is wrong
};

using Submission = std::variant<ledger::JournalEntry, Rejection>;

// Checks role, hub or cluster, resource class and every limit of matcher/order_rules.hpp. `id` is the
// exchange's id for the new order or offer, assigned by the caller.
Submission order_entry(const wire::SubmitOrder& request, const Participant& who, OrderId id, const Topology& topology);
Submission offer_entry(const wire::SubmitOffer& request, const Participant& who, OfferId id, const Topology& topology);

}  // namespace ewx::gateway
