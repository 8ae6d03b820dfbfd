// Kernel variant "generic" (see kernels.hpp; compiled with its own instruction-set flags in CMakeLists.txt).
#define NFP_RT_VARIANT generic
#define NFP_RT_NAME "generic"
#define NFP_RT_VW 4
#define NFP_RT_MR 2
#include "runtime/kernels_impl.inc"
