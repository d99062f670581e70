// Device probe for builds without CUDA (EWX_CUDA=OFF or no nvcc): there is never a usable device.
#include "kernels/device_probe.hpp"

namespace ewx::kernels {

bool built_with_cuda() { return false; }

DeviceProbe probe_device() {
  DeviceProbe probe;
  probe.reason = "this build has no CUDA kernels (configured with EWX_CUDA=OFF or without nvcc)";
  return probe;
}

}  // namespace ewx::kernels
