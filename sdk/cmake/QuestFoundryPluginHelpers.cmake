# qf_add_plugin(TARGET SOURCES src... [OUTPUT_DIRECTORY dir] [LIBRARIES lib...])
#
# Build a QuestFoundry plugin module: a shared object named <TARGET>.so
# with hidden visibility (only qf_plugin_entry is exported) and warnings on.
# The target name is the plugin id the descriptor declares.
function(qf_add_plugin target)
  cmake_parse_arguments(QFP "" "OUTPUT_DIRECTORY" "SOURCES;LIBRARIES" ${ARGN})
  if(NOT QFP_SOURCES)
    message(FATAL_ERROR "qf_add_plugin(${target}): SOURCES is required")
  endif()
  add_library(${target} MODULE ${QFP_SOURCES})
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    SUFFIX ".so"
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(QFP_OUTPUT_DIRECTORY)
    set_target_properties(${target} PROPERTIES
      LIBRARY_OUTPUT_DIRECTORY "${QFP_OUTPUT_DIRECTORY}")
  endif()
  if(TARGET QuestFoundry::plugin_sdk)
    target_link_libraries(${target} PRIVATE QuestFoundry::plugin_sdk)
  elseif(TARGET qf_plugin_sdk)
    target_link_libraries(${target} PRIVATE qf_plugin_sdk)
  endif()
  if(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -Wall -Wextra)
  endif()
  if(QFP_LIBRARIES)
    target_link_libraries(${target} PRIVATE ${QFP_LIBRARIES})
  endif()
endfunction()
