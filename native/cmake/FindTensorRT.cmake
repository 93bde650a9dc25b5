# FindTensorRT: NVIDIA TensorRT's headers and libnvinfer (the runtime the native runner links).
#
# Searches TensorRT_ROOT (CMake variable or environment), then the places JetPack and NVIDIA's
# Debian packages and tarballs install to. Defines:
#   TensorRT_FOUND, TensorRT_VERSION, TensorRT_INCLUDE_DIR, TensorRT_LIBRARY
#   TensorRT::nvinfer  (imported target)
# The CUDA runtime comes separately from find_package(CUDAToolkit).

set(_trt_hints "")
foreach(_root IN ITEMS "${TensorRT_ROOT}" "$ENV{TensorRT_ROOT}" "$ENV{TENSORRT_ROOT}")
  if(_root)
    list(APPEND _trt_hints "${_root}")
  endif()
endforeach()

find_path(TensorRT_INCLUDE_DIR NvInfer.h
  HINTS ${_trt_hints}
  PATH_SUFFIXES include include/x86_64-linux-gnu include/aarch64-linux-gnu
  PATHS /usr /usr/local /usr/local/tensorrt /opt/tensorrt /usr/local/cuda)

find_library(TensorRT_LIBRARY nvinfer
  HINTS ${_trt_hints}
  PATH_SUFFIXES lib lib64 lib/x86_64-linux-gnu lib/aarch64-linux-gnu targets/x86_64-linux/lib targets/aarch64-linux/lib
  PATHS /usr /usr/local /usr/local/tensorrt /opt/tensorrt /usr/local/cuda)

# NvInferVersion.h spells the version `#define NV_TENSORRT_MAJOR 8` up to 8.x and
# `#define TRT_MAJOR_ENTERPRISE 10` (with NV_TENSORRT_MAJOR aliasing it) from 10.x on.
if(TensorRT_INCLUDE_DIR AND EXISTS "${TensorRT_INCLUDE_DIR}/NvInferVersion.h")
  file(READ "${TensorRT_INCLUDE_DIR}/NvInferVersion.h" _trt_version_header)
  foreach(_part MAJOR MINOR PATCH)
    set(_value "")
    if(_trt_version_header MATCHES "#define[ \t]+NV_TENSORRT_${_part}[ \t]+([0-9]+)")
      set(_value "${CMAKE_MATCH_1}")
    elseif(_trt_version_header MATCHES "#define[ \t]+TRT_${_part}_ENTERPRISE[ \t]+([0-9]+)")
      set(_value "${CMAKE_MATCH_1}")
    endif()
    set(_trt_${_part} "${_value}")
  endforeach()
  if(NOT "${_trt_MAJOR}" STREQUAL "")
    set(TensorRT_VERSION "${_trt_MAJOR}.${_trt_MINOR}.${_trt_PATCH}")
  endif()
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(TensorRT
  REQUIRED_VARS TensorRT_LIBRARY TensorRT_INCLUDE_DIR
  VERSION_VAR TensorRT_VERSION
  FAIL_MESSAGE "TensorRT not found: install it (JetPack ships it, on x86 NVIDIA's libnvinfer-dev) or pass -DTensorRT_ROOT=<dir with include/NvInfer.h and lib/libnvinfer.so>")

if(TensorRT_FOUND AND TensorRT_VERSION VERSION_LESS 8.5)
  message(FATAL_ERROR "TensorRT ${TensorRT_VERSION} found; the runner needs >= 8.5 (enqueueV3 and the tensor-name API)")
endif()

if(TensorRT_FOUND AND NOT TARGET TensorRT::nvinfer)
  add_library(TensorRT::nvinfer UNKNOWN IMPORTED)
  set_target_properties(TensorRT::nvinfer PROPERTIES
    IMPORTED_LOCATION "${TensorRT_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${TensorRT_INCLUDE_DIR}")
endif()

mark_as_advanced(TensorRT_INCLUDE_DIR TensorRT_LIBRARY)
