// Device discovery: what this machine can offer to jobs.
//
// A CPU is always found. CUDA devices are found through the CUDA runtime when the worker was
// built with CUDA; on a machine without a GPU or driver they are simply absent (no error),
// so the worker does not advertise what it cannot run.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/device.h"

namespace qlab::worker {

using qlab::DeviceInfo;

// This machine's physical memory in bytes; 0 when unknown.
uint64_t HostMemoryBytes();

// Every device found. `why_no_cuda` (optional) receives why no CUDA device is listed.
std::vector<DeviceInfo> DiscoverDevices(std::string* why_no_cuda = nullptr);

// Keeps the devices named in `selection` ("cpu,cuda:0"; "" = all). INVALID_ARGUMENT naming
// --devices for a name that was not found.
StatusOr<std::vector<DeviceInfo>> SelectDevices(const std::vector<DeviceInfo>& found,
                                                const std::string& selection);

}  // namespace qlab::worker
