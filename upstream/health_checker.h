// HealthChecker: active HTTP checks of every endpoint of every upstream with a `health`
// table. Runs on worker 0; verdicts go to the endpoints' shared EndpointHealth, which every
// worker's balancer reads. An endpoint turns unhealthy after `unhealthy_after` failed checks
// in a row and healthy again after `healthy_after` good ones.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "upstream/http1_client.h"
#include "upstream/upstream.h"

namespace gw {

class Config;

class HealthChecker {
  public:
    HealthChecker(Loop& worker, const Config& config);
    ~HealthChecker();
    size_t probes() const { return probes_.size(); }

  private:
    struct Probe;
    std::vector<std::unique_ptr<Probe>> probes_;
};

}  // namespace gw
