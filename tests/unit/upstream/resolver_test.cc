// Resolver: a failed lookup is cached (negative TTL), so a name that does not resolve is not
// looked up again for every request (hardening #16).
#include "upstream/resolver.h"

#include <catch2/catch.hpp>

#include <event2/event.h>

#include <string>

TEST_CASE("resolver: a failed lookup is answered from the cache, not looked up again",
          "[upstream][resolver]") {
    event_base* base = event_base_new();
    REQUIRE(base);
    {
        gw::Resolver r(base, /*system_config=*/false);
        int answers = 0;
        std::string error;
        r.resolve("backend.internal", 8080, gw::Duration(30000),
                  [&](const gw::Resolver::Answer& a) {
                      ++answers;
                      if (!a.ok) error = a.error;
                  });
        for (int i = 0; i < 100 && answers == 0; ++i)
            event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        REQUIRE(answers == 1);
        CHECK(error.find("cannot resolve backend.internal") != std::string::npos);
        CHECK(r.lookups() == 1);

        // The next requests find the failure in the cache and start no lookup.
        for (int i = 0; i < 10; ++i) {
            gw::Resolver::Answer a;
            REQUIRE(r.cached("backend.internal", 8080, gw::Duration(30000), a));
            CHECK_FALSE(a.ok);
        }
        CHECK(r.lookups() == 1);
        // Another name is still looked up.
        gw::Resolver::Answer other;
        CHECK_FALSE(r.cached("other.internal", 8080, gw::Duration(30000), other));
    }
    event_base_free(base);
}
