// The standard fleet.
#include "sim_options.h"

namespace edgesketch::sim {

FleetOptions standard_fleet() { return FleetOptions{}; }

}  // namespace edgesketch::sim
