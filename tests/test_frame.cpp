// The frame codec: round trips, stream reassembly, and what hostile or broken input gets.
#include <doctest/doctest.h>

#include "gateway/frame.hpp"
#include "matcher/market_generator.hpp"

using namespace ewx;
using namespace ewx::gateway;

namespace {

std::vector<std::uint8_t> order_frame(std::uint64_t request, std::uint64_t client_order_id) {
  flatbuffers::FlatBufferBuilder b;
  const auto order =
      wire::CreateSubmitOrderDirect(b, client_order_id, "yrd", "gpu.h100", 16, 2650, 30, 0, 493'086, 493'090);
  b.Finish(wire::CreateEnvelope(b, request, wire::Payload::SubmitOrder, order.Union()), wire::EnvelopeIdentifier());
  std::vector<std::uint8_t> out;
  append_frame(out, b);
  return out;
}

std::vector<std::uint8_t> raw_frame(const std::vector<std::uint8_t>& body) {
  std::vector<std::uint8_t> out;
  const std::uint32_t size = static_cast<std::uint32_t>(body.size());
  for (int k = 0; k < 4; ++k) out.push_back(static_cast<std::uint8_t>(size >> (8 * k)));
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

}  // namespace

TEST_CASE("frames round-trip their payloads") {
  FrameReader reader;
  reader.append(order_frame(7, 42));
  REQUIRE(reader.next() == FrameReader::Result::frame);
  const wire::Envelope* e = reader.envelope();
  CHECK(e->request_id() == 7);
  REQUIRE(e->payload_type() == wire::Payload::SubmitOrder);
  const auto* order = e->payload_as_SubmitOrder();
  CHECK(order->client_order_id() == 42);
  CHECK(order->hub()->str() == "yrd");
  CHECK(order->resource_class()->str() == "gpu.h100");
  CHECK(order->units() == 16);
  CHECK(order->bid() == 2650);
  CHECK(order->window_end() == 493'090);
  CHECK(reader.next() == FrameReader::Result::need_more);

  flatbuffers::FlatBufferBuilder b;
  std::vector<flatbuffers::Offset<wire::ContractRecord>> contracts;
  for (std::uint64_t id = 0; id < 3; ++id) {
    contracts.push_back(
        wire::CreateContractRecordDirect(b, id, 1, 10 + id, 20 + id, 5, 6, 8, 1500, 10, 1, 9, "gpu.h20", 1, 2));
  }
  const auto page = wire::CreateContractsResultDirect(b, &contracts, 2, true);
  b.Finish(wire::CreateEnvelope(b, 9, wire::Payload::ContractsResult, page.Union()), wire::EnvelopeIdentifier());
  std::vector<std::uint8_t> bytes;
  append_frame(bytes, b);
  reader.append(bytes);
  REQUIRE(reader.next() == FrameReader::Result::frame);
  const auto* result = reader.envelope()->payload_as_ContractsResult();
  REQUIRE(result);
  REQUIRE(result->contracts()->size() == 3);
  CHECK(result->contracts()->Get(2)->order() == 12);
  CHECK(result->contracts()->Get(2)->resource_class()->str() == "gpu.h20");
  CHECK(result->more());
}

TEST_CASE("frames split anywhere in the stream are reassembled in order") {
  std::vector<std::uint8_t> stream;
  for (std::uint64_t k = 1; k <= 60; ++k) {
    const auto f = order_frame(k, 1000 + k);
    stream.insert(stream.end(), f.begin(), f.end());
  }
  SeededRandom random(3);
  FrameReader reader;
  std::uint64_t expected = 1;
  for (std::size_t at = 0; at < stream.size();) {
    const std::size_t piece =
        std::min<std::size_t>(static_cast<std::size_t>(random.between(1, 17)), stream.size() - at);
    reader.append({stream.data() + at, piece});
    at += piece;
    for (FrameReader::Result r; (r = reader.next()) == FrameReader::Result::frame;) {
      CHECK(reader.envelope()->request_id() == expected);
      CHECK(reader.envelope()->payload_as_SubmitOrder()->client_order_id() == 1000 + expected);
      ++expected;
    }
    CHECK(reader.buffered() < 200);  // never more than one frame held
  }
  CHECK(expected == 61);
}

TEST_CASE("hostile and broken frames") {
  SUBCASE("an oversized length is refused before anything is buffered, and the stream is given up") {
    FrameReader reader(1000);
    const std::uint8_t huge[4] = {0xff, 0xff, 0xff, 0x7f};
    reader.append(huge);
    CHECK(reader.next() == FrameReader::Result::too_large);
    CHECK(reader.error().find("exceeds the limit of 1000") != std::string::npos);
    reader.append(order_frame(1, 1));
    CHECK(reader.next() == FrameReader::Result::too_large);
    CHECK(reader.buffered() == 0);
  }
  SUBCASE("the cap is exact") {
    const auto frame = order_frame(1, 1);
    const std::uint32_t body = static_cast<std::uint32_t>(frame.size() - 4);
    FrameReader exact(body), short_by_one(body - 1);
    exact.append(frame);
    short_by_one.append(frame);
    CHECK(exact.next() == FrameReader::Result::frame);
    CHECK(short_by_one.next() == FrameReader::Result::too_large);
  }
  SUBCASE("garbage of a plausible length is malformed, and the next good frame still decodes") {
    SeededRandom random(11);
    for (int round = 0; round < 500; ++round) {
      std::vector<std::uint8_t> body(static_cast<std::size_t>(random.between(0, 120)));
      for (auto& byte : body) byte = static_cast<std::uint8_t>(random.between(0, 255));
      FrameReader reader;
      reader.append(raw_frame(body));
      reader.append(order_frame(5, 5));
      CHECK(reader.next() == FrameReader::Result::malformed);
      CHECK_FALSE(reader.error().empty());
      REQUIRE(reader.next() == FrameReader::Result::frame);
      CHECK(reader.envelope()->request_id() == 5);
    }
  }
  SUBCASE("a valid FlatBuffer that is not an ewx envelope") {
    flatbuffers::FlatBufferBuilder b;
    const auto order = wire::CreateSubmitOrderDirect(b, 1, "yrd", "gpu.h100");
    b.Finish(wire::CreateEnvelope(b, 1, wire::Payload::SubmitOrder, order.Union()));  // no identifier
    std::vector<std::uint8_t> bytes;
    append_frame(bytes, b);
    FrameReader reader;
    reader.append(bytes);
    CHECK(reader.next() == FrameReader::Result::malformed);
    CHECK(reader.error().find("EWX1") != std::string::npos);
  }
  SUBCASE("an envelope without a payload") {
    flatbuffers::FlatBufferBuilder b;
    b.Finish(wire::CreateEnvelope(b, 3), wire::EnvelopeIdentifier());
    std::vector<std::uint8_t> bytes;
    append_frame(bytes, b);
    FrameReader reader;
    reader.append(bytes);
    CHECK(reader.next() == FrameReader::Result::malformed);
    CHECK(reader.error() == "the envelope has no payload");
  }
  SUBCASE("a payload type with no payload (found by the fuzzer)") {
    flatbuffers::FlatBufferBuilder b;
    wire::EnvelopeBuilder envelope(b);
    envelope.add_request_id(4);
    envelope.add_payload_type(wire::Payload::Hello);  // a type, but no table
    b.Finish(envelope.Finish(), wire::EnvelopeIdentifier());
    std::vector<std::uint8_t> bytes;
    append_frame(bytes, b);
    FrameReader reader;
    reader.append(bytes);
    CHECK(reader.next() == FrameReader::Result::malformed);
    CHECK(reader.error() == "the envelope has no payload");
  }
  SUBCASE("a truncated frame waits for the rest") {
    const auto frame = order_frame(2, 2);
    FrameReader reader;
    reader.append({frame.data(), frame.size() / 2});
    CHECK(reader.next() == FrameReader::Result::need_more);
    reader.append({frame.data() + frame.size() / 2, frame.size() - frame.size() / 2});
    CHECK(reader.next() == FrameReader::Result::frame);
  }
}
