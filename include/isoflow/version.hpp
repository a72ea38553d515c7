#pragma once

#define ISOFLOW_VERSION_MAJOR 0
#define ISOFLOW_VERSION_MINOR 1
#define ISOFLOW_VERSION_PATCH 0

namespace isoflow {
inline constexpr const char* version_string = "0.1.0";
}  // namespace isoflow
