// What the tests of the agent in process (AgentApp) share: the app built from the text of a
// config file as edgesketch-agent builds it from the file, and its metrics.
#pragma once

#include <memory>
#include <string>

#include "app/agent_app.h"
#include "config/agent_config.h"
#include "edgesketch/common/status.h"
#include "support/metrics_text.h"

namespace edgesketch::agent::testing {

// parse_agent_config(toml, name), then AgentApp::create with `deps`: the app, not started.
inline Result<std::unique_ptr<AgentApp>> create_agent_app(const std::string& toml,
                                                          const std::string& name, AgentDeps deps) {
  ES_ASSIGN_OR_RETURN(AgentConfig config, parse_agent_config(toml, name));
  return AgentApp::create(std::move(config), deps);
}

// The app's /metrics lines starting with `prefix`, added up.
inline double metric(const AgentApp& app, const std::string& prefix) {
  return test_support::metric_sum(app.render_metrics(), prefix);
}

}  // namespace edgesketch::agent::testing
