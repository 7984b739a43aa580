#include "aftershock/common/seismic/f16.hpp"

namespace aftershock::seismic {

const F16Table kF16Table{};

}  // namespace aftershock::seismic
