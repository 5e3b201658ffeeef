#include "machine/qemu_error.h"

namespace memplug::machine {

std::string_view error_class_name(ErrorClass c)
{
    switch (c) {
    case ErrorClass::GenericError: return "GenericError";
    case ErrorClass::CommandNotFound: return "CommandNotFound";
    case ErrorClass::DeviceNotActive: return "DeviceNotActive";
    case ErrorClass::DeviceNotFound: return "DeviceNotFound";
    case ErrorClass::KVMMissingCap: return "KVMMissingCap";
    }
    return "GenericError";
}

std::string format_hmp_error(const QemuError& e) { return "Error: " + e.desc + "\n" + e.hint; }

tl::unexpected<QemuError> qerr_bad_id()
{
    return tl::unexpected(QemuError{ErrorClass::GenericError, "Parameter 'id' expects an identifier",
                                    "Identifiers consist of letters, digits, '-', '.', '_', starting with a letter.\n"});
}

}  // namespace memplug::machine
