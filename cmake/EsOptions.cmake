# Compiler flags, sanitizers and the es_target_defaults() helper for our own targets.

find_program(ES_CCACHE ccache)
if(ES_CCACHE)
  set(CMAKE_C_COMPILER_LAUNCHER ${ES_CCACHE})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${ES_CCACHE})
endif()

if(ES_SANITIZE STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
elseif(ES_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
elseif(NOT ES_SANITIZE STREQUAL "")
  message(FATAL_ERROR "ES_SANITIZE must be empty, 'address' or 'thread', not '${ES_SANITIZE}'")
endif()

if(ES_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "ES_FUZZ=ON needs clang (configure with CC=clang CXX=clang++)")
  endif()
  # Instrument every library the fuzzers link (coverage feedback and ASan/UBSan), not only the
  # fuzz entry points; the fuzz targets add -fsanitize=fuzzer for libFuzzer's main.
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

# Warnings as errors for code we write; generated nanopb sources do not use this.
function(es_target_defaults target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror -Wno-missing-field-initializers)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Wnon-virtual-dtor>)
  endif()
endfunction()
