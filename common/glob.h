// Shell-style glob matching of device and model strings.
#pragma once

#include <string_view>

namespace qlab {

// `*` matches any run, `?` any one character; case-insensitive (GPU model strings vary in case
// between drivers and users). No character classes: device names may contain '['.
bool GlobMatch(std::string_view pattern, std::string_view text);

}  // namespace qlab
