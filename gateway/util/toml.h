// The one include of toml++ (3.3): compiled once in toml_impl.cc, no exceptions, no header-only
// build. Only the config loader's translation units include this.
#pragma once

#include <toml++/toml.h>
