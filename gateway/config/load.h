// Loading a configuration: reads the TOML file, calls each section's parser and builds the
// immutable snapshot (gateway/core/config.h). This is the composition root of the config.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "gateway/core/config.h"
#include "gateway/util/config_reader.h"

namespace gw {

// Loads and validates a config file. Every problem is recorded in `errors` as file:line:col;
// nullptr when there is at least one error (warnings alone do not fail).
std::shared_ptr<Config> load_config_file(const std::string& path, ConfigErrors& errors);
// The same from text, with relative paths resolved against `base_dir`.
std::shared_ptr<Config> load_config_text(std::string_view text, const std::string& name,
                                         const std::string& base_dir, ConfigErrors& errors);

}  // namespace gw
