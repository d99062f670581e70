// libFuzzer target for the frame decoder: any byte stream, in any pieces, must never crash, hang, leak or
// read out of bounds (built with AddressSanitizer and UndefinedBehaviorSanitizer), and every frame the
// reader calls good must be fully readable.
#include <cstddef>
#include <cstdint>

#include "gateway/frame.hpp"

namespace {

// Reads every field a server would read, so the sanitizers see any out-of-bounds access.
std::size_t touch(const ewx::wire::Envelope& e) {
  std::size_t sum = e.request_id();
  using ewx::wire::Payload;
  switch (e.payload_type()) {
    case Payload::SubmitOrder: {
      const auto* o = e.payload_as_SubmitOrder();
      sum += o->units() + (o->hub() ? o->hub()->size() : 0) + (o->resource_class() ? o->resource_class()->size() : 0);
      break;
    }
    case Payload::Hello:
      sum += e.payload_as_Hello()->participant() ? e.payload_as_Hello()->participant()->size() : 0;
      break;
    case Payload::Authenticate:
      sum += e.payload_as_Authenticate()->hmac() ? e.payload_as_Authenticate()->hmac()->size() : 0;
      break;
    case Payload::ContractsResult:
      if (const auto* list = e.payload_as_ContractsResult()->contracts()) {
        for (const auto* c : *list) sum += c->units() + (c->resource_class() ? c->resource_class()->size() : 0);
      }
      break;
    case Payload::Reject:
      sum += e.payload_as_Reject()->reason() ? e.payload_as_Reject()->reason()->size() : 0;
      break;
    default:
      break;
  }
  return sum;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // The first byte chooses how the rest is cut into reads, as TCP would.
  if (size == 0) return 0;
  const std::size_t piece = 1 + data[0] % 64;
  ewx::gateway::FrameReader reader(4096);
  volatile std::size_t sink = 0;
  for (std::size_t at = 1; at < size; at += piece) {
    reader.append({data + at, std::min(piece, size - at)});
    for (;;) {
      const auto result = reader.next();
      if (result == ewx::gateway::FrameReader::Result::frame)
        sink = sink + touch(*reader.envelope());
      else if (result == ewx::gateway::FrameReader::Result::unsupported)
        sink = sink + reader.envelope()->request_id();
      else if (result == ewx::gateway::FrameReader::Result::malformed)
        continue;
      else
        break;
    }
  }
  return 0;
}
