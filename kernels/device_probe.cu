// Device probe for CUDA builds (see device_probe.hpp).
//
// cudaGetDeviceCount is the documented way to ask; it answers cudaErrorNoDevice or
// cudaErrorInsufficientDriver on hosts without a GPU or driver, which we report as reasons. A device is
// usable when we can also create a context on it (cudaFree(0)) and read its free memory, because a device
// that is present but busy in exclusive mode or broken is no more usable than none.
#include <cuda_runtime.h>

#include "kernels/device_probe.hpp"

namespace ewx::kernels {

bool built_with_cuda() { return true; }

DeviceProbe probe_device() {
  DeviceProbe probe;
  int count = 0;
  cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    probe.reason = cudaGetErrorString(status);
    cudaGetLastError();  // reset the runtime's last-error state so later CUDA calls start clean
    return probe;
  }
  if (count == 0) {
    probe.reason = "no CUDA device";
    return probe;
  }
  cudaDeviceProp properties{};
  status = cudaGetDeviceProperties(&properties, 0);
  if (status == cudaSuccess) status = cudaFree(nullptr);
  std::size_t free_bytes = 0, total_bytes = 0;
  if (status == cudaSuccess) status = cudaMemGetInfo(&free_bytes, &total_bytes);
  if (status != cudaSuccess) {
    probe.reason = std::string("device 0 is present but not usable: ") + cudaGetErrorString(status);
    cudaGetLastError();
    return probe;
  }
  probe.usable = true;
  probe.name = properties.name;
  probe.compute_capability = properties.major * 10 + properties.minor;
  probe.free_bytes = free_bytes;
  return probe;
}

}  // namespace ewx::kernels
