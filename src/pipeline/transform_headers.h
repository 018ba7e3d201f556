#pragma once

namespace sluice {

// Says which module versions (content hashes) made a request: the pipeline transform's, then
// the sink transform's ("<pipeline>, <sink>").
inline constexpr const char* kTransformVersionHeader = "Sluice-Transform-Version";

}  // namespace sluice
