// Fuzz target: TOML text → validated Config. Any input must end in a config or in errors with
// positions, never a crash or a hang.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "gateway/config/load.h"
#include "gateway/core/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    gw::ConfigErrors errors("fuzz.toml");
    auto cfg = gw::load_config_text(text, "fuzz.toml", "/nonexistent", errors);
    if (!cfg && !errors.has_errors()) std::abort();  // a refusal always says why
    (void)errors.format();
    return 0;
}
