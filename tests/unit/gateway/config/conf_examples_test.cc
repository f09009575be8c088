// Every example under conf/ loads without errors or warnings: the examples are documentation
// users copy from, so they must stay valid.
#include <dirent.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "gateway/config/load.h"
#include "gateway/core/config.h"

TEST_CASE("every conf/*.toml example loads cleanly", "[unit][config]") {
    std::string dir = std::string(GW_SOURCE_DIR) + "/conf";
    std::vector<std::string> files;
    DIR* d = opendir(dir.c_str());
    REQUIRE(d != nullptr);
    while (dirent* e = readdir(d)) {
        std::string name = e->d_name;
        if (name.size() > 5 && name.compare(name.size() - 5, 5, ".toml") == 0)
            files.push_back(dir + "/" + name);
    }
    closedir(d);
    REQUIRE(files.size() >= 3);
    for (const auto& f : files) {
        INFO(f);
        gw::ConfigErrors errors(f);
        auto cfg = gw::load_config_file(f, errors);
        INFO(errors.format());
        CHECK(cfg != nullptr);
        CHECK(errors.diagnostics().empty());
    }
}
