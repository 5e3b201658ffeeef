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

}  // namespace memplug::machine
