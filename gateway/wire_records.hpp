// Between the exchange's own records and the wire: the envelope every frame carries, requests as plain
// structs, and the ledger's records as FlatBuffers tables and back. The server and every client build and
// read frames through these functions only, so the two sides cannot drift apart field by field.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gateway/frame.hpp"
#include "ledger/ledger.hpp"
#include "ledger/records.hpp"

namespace ewx::gateway {

// Finishes `builder` as an Envelope around `payload` and appends it to `out` as one frame; clears `builder`
// for reuse.
template <typename Table>
void append_envelope(std::vector<std::uint8_t>& out, flatbuffers::FlatBufferBuilder& builder, std::uint64_t request_id,
                     flatbuffers::Offset<Table> payload) {
  const auto envelope =
      wire::CreateEnvelope(builder, request_id, wire::PayloadTraits<Table>::enum_value, payload.Union());
  wire::FinishEnvelopeBuffer(builder, envelope);
  append_frame(out, builder);
  builder.Clear();
}

// What an enterprise bids for; fields as in schemas/ewx.fbs SubmitOrder.
struct OrderRequest {
  std::uint64_t client_order_id = 0;
  std::string hub;
  std::string resource_class;
  Units units = 0;
  Fen bid = 0;
  std::int32_t max_latency_ms = 0;
  std::int32_t min_green_percent = 0;
  Hour window_begin = 0;
  Hour window_end = 0;
};

// What a provider offers; fields as in SubmitOffer.
struct OfferRequest {
  std::uint64_t client_order_id = 0;
  std::string cluster;
  std::string resource_class;
  Units units = 0;
  Fen ask = 0;
  std::int32_t green_percent = 0;
  Hour window_begin = 0;
  Hour window_end = 0;
};

flatbuffers::Offset<wire::SubmitOrder> to_wire(flatbuffers::FlatBufferBuilder& b, const OrderRequest& order);
flatbuffers::Offset<wire::SubmitOffer> to_wire(flatbuffers::FlatBufferBuilder& b, const OfferRequest& offer);

flatbuffers::Offset<wire::ContractRecord> to_wire(flatbuffers::FlatBufferBuilder& b,
                                                  const ledger::ContractRecord& contract);
ledger::ContractRecord from_wire(const wire::ContractRecord& contract);

flatbuffers::Offset<wire::BatchResult> to_wire(flatbuffers::FlatBufferBuilder& b, const ledger::BatchRecord& record);
ledger::BatchRecord from_wire(const wire::BatchResult& record);

// The head an auditor checks proofs against, with the key that signed it.
struct HeadView {
  ledger::SignedHead head;
  std::string public_key;  // 32 bytes
};
flatbuffers::Offset<wire::HeadResult> to_wire(flatbuffers::FlatBufferBuilder& b, const HeadView& head);
HeadView from_wire(const wire::HeadResult& head);

// A batch's summary as subscribers get it.
struct BatchSummary {
  std::uint64_t number = 0;
  std::int64_t cleared_at = 0;
  std::uint32_t orders = 0;
  std::uint32_t offers = 0;
  std::uint32_t contracts = 0;
  Units units = 0;
  std::string total_surplus;
  std::uint64_t log_size = 0;
  ledger::Hash log_root{};
};
flatbuffers::Offset<wire::BatchCleared> to_wire(flatbuffers::FlatBufferBuilder& b, const BatchSummary& summary);
BatchSummary from_wire(const wire::BatchCleared& summary);

// A FlatBuffers byte vector as a 32-byte hash; nothing when absent or of another length.
std::optional<ledger::Hash> hash_from_wire(const flatbuffers::Vector<std::uint8_t>* bytes);

}  // namespace ewx::gateway
