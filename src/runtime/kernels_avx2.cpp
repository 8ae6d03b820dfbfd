// Kernel variant "avx2" (see kernels.hpp; compiled with its own instruction-set flags in CMakeLists.txt).
#define NFP_RT_VARIANT avx2
#define NFP_RT_NAME "avx2"
#define NFP_RT_VW 8
#define NFP_RT_MR 3
#include "runtime/kernels_impl.inc"
