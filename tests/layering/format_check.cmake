# Fails if any C++ file in the repository differs from clang-format's output.
file(GLOB_RECURSE files
  ${SOURCE_DIR}/core/*.h ${SOURCE_DIR}/core/*.cc ${SOURCE_DIR}/crypto/*.h ${SOURCE_DIR}/crypto/*.cc
  ${SOURCE_DIR}/config/*.h ${SOURCE_DIR}/config/*.cc ${SOURCE_DIR}/mapping/*.h ${SOURCE_DIR}/mapping/*.cc
  ${SOURCE_DIR}/issuance/*.h ${SOURCE_DIR}/issuance/*.cc ${SOURCE_DIR}/storage/*.h ${SOURCE_DIR}/storage/*.cc
  ${SOURCE_DIR}/scm/*.h ${SOURCE_DIR}/scm/*.cc ${SOURCE_DIR}/protocols/*.h ${SOURCE_DIR}/protocols/*.cc
  ${SOURCE_DIR}/daemon/*.h ${SOURCE_DIR}/daemon/*.cc ${SOURCE_DIR}/tools/*.h ${SOURCE_DIR}/tools/*.cc
  ${SOURCE_DIR}/bench/*.h ${SOURCE_DIR}/bench/*.cc ${SOURCE_DIR}/tests/*.h ${SOURCE_DIR}/tests/*.cc)
list(LENGTH files count)
if(count EQUAL 0)
  message(FATAL_ERROR "no sources found under ${SOURCE_DIR}")
endif()
execute_process(COMMAND ${CLANG_FORMAT} --dry-run --Werror ${files}
                RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "not clang-formatted (run clang-format -i on these):\n${err}")
endif()
message(STATUS "${count} files clang-formatted")
