// The toml++ implementation, compiled once for the whole build (TOML_HEADER_ONLY=0).
#define TOML_IMPLEMENTATION
#include "gateway/util/toml.h"
