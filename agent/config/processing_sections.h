// Internal to the config loader: reading [enrich], [privacy] and [[filter]] into a
// ProcessingConfig, and the checks of rule conditions against it. Errors go into the document
// with their key path, like every other section's (agent_config.h).
#pragma once

#include <vector>

#include "edgesketch/config/toml_reader.h"
#include "process/processing_config.h"
#include "window/rule.h"

namespace edgesketch::agent {

// Reads the three sections of `root` into `out`.
void read_processing_sections(config::TomlTable& root, ProcessingConfig& out);

// Checks a rule's `where` (key "where" of `rule_table`): it compiles, and it reads no tag that
// [privacy] drop_tags removes before the rules run.
void check_rule_where(config::TomlTable& rule_table, const RuleSpec& rule,
                      const ProcessingConfig& processing);

}  // namespace edgesketch::agent
