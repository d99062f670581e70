// The frame codec.
//
// Why a length prefix and FlatBuffers' Verifier: a length lets the reader find frame boundaries in a TCP
// stream without parsing, and lets it refuse an oversized frame before buffering it; the Verifier checks
// every offset, vector length and nested table of an Envelope against the buffer (and the "EWX1" file
// identifier) so that no field read afterwards can go out of bounds, whatever a hostile peer sent. A frame
// that is complete but fails verification is reported and skipped, so one bad request gets one Reject;
// an oversized length leaves the stream position unknown, so the connection must close.
#include "gateway/frame.hpp"

#include <algorithm>

namespace ewx::gateway {

void append_frame(std::vector<std::uint8_t>& out, const flatbuffers::FlatBufferBuilder& builder) {
  const std::uint32_t size = builder.GetSize();
  for (int k = 0; k < 4; ++k) out.push_back(static_cast<std::uint8_t>((size >> (8 * k)) & 0xff));
  out.insert(out.end(), builder.GetBufferPointer(), builder.GetBufferPointer() + size);
}

void FrameReader::append(std::span<const std::uint8_t> bytes) {
  if (broken_) return;
  // Drop what earlier frames used before growing, so the buffer never holds more than one frame's worth.
  if (consumed_ > 0) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(consumed_));
    consumed_ = 0;
    envelope_ = nullptr;
  }
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

FrameReader::Result FrameReader::next() {
  envelope_ = nullptr;
  error_.clear();
  if (broken_) return Result::too_large;
  const std::size_t available = buffer_.size() - consumed_;
  if (available < 4) return Result::need_more;
  const std::uint8_t* at = buffer_.data() + consumed_;
  const std::uint32_t size = static_cast<std::uint32_t>(at[0]) | static_cast<std::uint32_t>(at[1]) << 8 |
                             static_cast<std::uint32_t>(at[2]) << 16 | static_cast<std::uint32_t>(at[3]) << 24;
  if (size > max_) {
    broken_ = true;
    buffer_.clear();
    consumed_ = 0;
    error_ = "frame of " + std::to_string(size) + " bytes exceeds the limit of " + std::to_string(max_);
    return Result::too_large;
  }
  if (available - 4 < size) return Result::need_more;
  const std::uint8_t* body = at + 4;
  consumed_ += 4 + size;

  // FlatBuffers requires its buffers aligned to their largest scalar; a frame inside a stream buffer may not
  // be, so verify and read a copy that is.
  aligned_.assign(body, body + size);
  flatbuffers::Verifier verifier(aligned_.data(), aligned_.size(), 64, 100'000);
  if (size < 8 || !wire::EnvelopeBufferHasIdentifier(aligned_.data())) {
    error_ = "not an ewx envelope (missing the EWX1 identifier)";
    return Result::malformed;
  }
  if (!wire::VerifyEnvelopeBuffer(verifier)) {
    error_ = "the envelope fails FlatBuffers verification";
    return Result::malformed;
  }
  const wire::Envelope* envelope = wire::GetEnvelope(aligned_.data());
  // The Verifier accepts a union whose value is absent (union values are optional in FlatBuffers), so a
  // frame can name a payload type and carry nothing; found by tests/fuzz_frame. Handlers may rely on
  // payload_as_X() being non-null for the type the envelope names.
  if (envelope->payload_type() == wire::Payload::NONE || envelope->payload() == nullptr) {
    error_ = "the envelope has no payload";
    return Result::malformed;
  }
  if (static_cast<std::uint8_t>(envelope->payload_type()) > static_cast<std::uint8_t>(wire::Payload::MAX)) {
    error_ = "unknown payload type " + std::to_string(static_cast<unsigned>(envelope->payload_type()));
    envelope_ = envelope;
    return Result::unsupported;
  }
  envelope_ = envelope;
  return Result::frame;
}

}  // namespace ewx::gateway
