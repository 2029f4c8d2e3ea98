# The C++ kernels that need no GNU Radio (LDPC code and decoder, batched rANS, the
# Schmidl-Cox metric of semdacom.phy.sync, the max-log QAM demapper), one list for
# both builds: the GNU Radio module (lib/CMakeLists.txt) and the standalone algorithm package
# semdacom._kernels (src/CMakeLists.txt, also built by `pip install .`).
set(semdacom_kernel_sources
    ${CMAKE_CURRENT_LIST_DIR}/ldpc_code.cc
    ${CMAKE_CURRENT_LIST_DIR}/ldpc_decoder.cc
    ${CMAKE_CURRENT_LIST_DIR}/rans_coder.cc
    ${CMAKE_CURRENT_LIST_DIR}/schmidl_cox.cc
    ${CMAKE_CURRENT_LIST_DIR}/qam_demap.cc
)
