# Helpers shared by every folder's CMakeLists.txt.

# sluice_library(<name> <sources...>): the folder's static internal library, target sluice_<name>.
function(sluice_library name)
  add_library(sluice_${name} STATIC ${ARGN})
  set_target_properties(sluice_${name} PROPERTIES POSITION_INDEPENDENT_CODE ON)
endfunction()

# sluice_unit_test(<name> SOURCES <files...> LIBS <targets...>): a cmocka test binary run by ctest
# with the label "unit" (the sanitizer pass of `make test` runs exactly these).
function(sluice_unit_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(unit_${name} ${T_SOURCES})
  target_link_libraries(unit_${name} PRIVATE ${T_LIBS} PkgConfig::CMOCKA)
  add_test(NAME unit.${name} COMMAND unit_${name})
  set_tests_properties(unit.${name} PROPERTIES LABELS unit TIMEOUT 120
    ENVIRONMENT "SLUICE_SOURCE_DIR=${CMAKE_SOURCE_DIR};SLUICE_BUILD_DIR=${CMAKE_BINARY_DIR};LSAN_OPTIONS=suppressions=${CMAKE_SOURCE_DIR}/tests/lsan.supp")
endfunction()
