// The part of NVIDIA's Management Library (NVML) the agent uses, declared here because the
// agent loads libnvidia-ml.so.1 at run time (dlopen) and has no build-time dependency on
// the driver or the CUDA toolkit. Everything below is written from the NVML API reference
// (docs.nvidia.com/deploy/nvml-api, the `nvml.h` of CUDA 12.x that documents it): the
// names are the symbols the library exports (the `_v2`/`_v3` ones where NVML versioned
// a function), and each type has the layout and each constant the value that reference
// gives. Only what the agent calls is here; tests/fakes/fake_nvml.cpp implements the same
// set. Nothing in this file is NVIDIA's code.
#pragma once

#include <cstdint>

namespace metricsd::tools::nvml {

// nvmlReturn_t (API reference: "Error reporting").
using Return = int;
inline constexpr Return kSuccess = 0;
inline constexpr Return kErrorUninitialized = 1;
inline constexpr Return kErrorInvalidArgument = 2;
inline constexpr Return kErrorNotSupported = 3;
inline constexpr Return kErrorNoPermission = 4;
inline constexpr Return kErrorNotFound = 6;
inline constexpr Return kErrorInsufficientSize = 7;
inline constexpr Return kErrorDriverNotLoaded = 9;
inline constexpr Return kErrorTimeout = 10;
inline constexpr Return kErrorFunctionNotFound = 13;
inline constexpr Return kErrorGpuIsLost = 15;
inline constexpr Return kErrorResetRequired = 16;
inline constexpr Return kErrorNoData = 21;
inline constexpr Return kErrorArgumentVersionMismatch = 25;
inline constexpr Return kErrorUnknown = 999;

// Opaque handles (nvmlDevice_t, nvmlEventSet_t).
struct DeviceSt;
using Device = DeviceSt*;
struct EventSetSt;
using EventSet = EventSetSt*;

// nvmlUtilization_t: percent of the last sample period.
struct Utilization {
  unsigned int gpu;
  unsigned int memory;
};

// nvmlMemory_t (v1): bytes.
struct Memory {
  unsigned long long total, free, used;
};

// nvmlMemory_v2_t: `version` must be kMemoryV2; `reserved` is what the driver and firmware
// set aside; `used` excludes it.
struct MemoryV2 {
  unsigned int version;
  unsigned long long total, reserved, free, used;
};
// NVML_STRUCT_VERSION(Memory, 2): the struct's size with the version in the top byte.
inline constexpr unsigned int kMemoryV2 = static_cast<unsigned int>(sizeof(MemoryV2)) | (2u << 24);

// nvmlProcessInfo_t as nvmlDeviceGet*RunningProcesses_v3 fill it (nvmlProcessInfo_v2_t).
struct ProcessInfo {
  unsigned int pid;
  unsigned long long usedGpuMemory;  // bytes
  unsigned int gpuInstanceId;        // 0xFFFFFFFF without MIG
  unsigned int computeInstanceId;
};

// nvmlViolationTime_t.
struct ViolationTime {
  unsigned long long referenceTime;  // µs, CPU clock
  unsigned long long violationTime;  // ns, cumulative
};

// nvmlValue_t and nvmlFieldValue_t (nvmlDeviceGetFieldValues).
union Value {
  double dVal;
  int siVal;
  unsigned int uiVal;
  unsigned long ulVal;
  unsigned long long ullVal;
  long long sllVal;
  unsigned short usVal;
};
inline constexpr int kValueTypeDouble = 0;
inline constexpr int kValueTypeUnsignedInt = 1;
inline constexpr int kValueTypeUnsignedLong = 2;
inline constexpr int kValueTypeUnsignedLongLong = 3;
inline constexpr int kValueTypeSignedLongLong = 4;
inline constexpr int kValueTypeSignedInt = 5;
inline constexpr int kValueTypeUnsignedShort = 6;

struct FieldValue {
  unsigned int fieldId;
  unsigned int scopeId;  // for NVLink fields: the link, or 0xFFFFFFFF for all links
  long long timestamp;
  long long latencyUsec;
  int valueType;  // nvmlValueType_t
  Return nvmlReturn;
  Value value;
};
// Field ids (NVML_FI_DEV_*).
inline constexpr unsigned int kFieldMemoryTemp = 82;               // °C of the memory (HBM)
inline constexpr unsigned int kFieldNvlinkThroughputDataTx = 138;  // KiB, cumulative
inline constexpr unsigned int kFieldNvlinkThroughputDataRx = 139;
inline constexpr unsigned int kFieldPcieCountTxBytes = 197;  // bytes, cumulative, may wrap
inline constexpr unsigned int kFieldPcieCountRxBytes = 198;
inline constexpr unsigned int kScopeAllLinks = 0xFFFFFFFFu;

// nvmlEventData_t (nvmlEventSetWait_v2).
struct EventData {
  Device device;
  unsigned long long eventType;
  unsigned long long eventData;  // the XID for kEventTypeXidCriticalError (999: unknown)
  unsigned int gpuInstanceId;
  unsigned int computeInstanceId;
};
inline constexpr unsigned long long kEventTypeXidCriticalError = 0x8ULL;

// Enumerations passed by value (each an `int`-sized C enum).
inline constexpr int kTemperatureGpu = 0;  // nvmlTemperatureSensors_t
inline constexpr int kClockSm = 1;         // nvmlClockType_t
inline constexpr int kClockMem = 2;
inline constexpr int kMemoryErrorCorrected = 0;  // nvmlMemoryErrorType_t
inline constexpr int kMemoryErrorUncorrected = 1;
inline constexpr int kVolatileEcc = 0;          // nvmlEccCounterType_t
inline constexpr int kRetiredSingleBitEcc = 0;  // nvmlPageRetirementCause_t
inline constexpr int kRetiredDoubleBitEcc = 1;
inline constexpr int kPcieTxBytes = 0;  // nvmlPcieUtilCounter_t (KB/s)
inline constexpr int kPcieRxBytes = 1;
inline constexpr int kPerfPolicyPower = 0;  // nvmlPerfPolicyType_t
inline constexpr int kPerfPolicyThermal = 1;
inline constexpr int kPerfPolicySyncBoost = 2;
inline constexpr int kPerfPolicyBoardLimit = 3;
inline constexpr int kPerfPolicyLowUtilization = 4;
inline constexpr int kPerfPolicyReliability = 5;
inline constexpr int kPstateUnknown = 32;       // nvmlPstates_t: 0..15, or this
inline constexpr unsigned int kMigEnabled = 1;  // NVML_DEVICE_MIG_ENABLE

// Clock event (throttle) reason bits (nvmlClocksEventReason*).
inline constexpr unsigned long long kReasonGpuIdle = 0x1;
inline constexpr unsigned long long kReasonApplicationsClocksSetting = 0x2;
inline constexpr unsigned long long kReasonSwPowerCap = 0x4;
inline constexpr unsigned long long kReasonHwSlowdown = 0x8;
inline constexpr unsigned long long kReasonSyncBoost = 0x10;
inline constexpr unsigned long long kReasonSwThermalSlowdown = 0x20;
inline constexpr unsigned long long kReasonHwThermalSlowdown = 0x40;
inline constexpr unsigned long long kReasonHwPowerBrakeSlowdown = 0x80;
inline constexpr unsigned long long kReasonDisplayClockSetting = 0x100;

// Buffer sizes the reference gives for the string queries.
inline constexpr unsigned int kNameBufferSize = 96;    // NVML_DEVICE_NAME_V2_BUFFER_SIZE
inline constexpr unsigned int kUuidBufferSize = 96;    // NVML_DEVICE_UUID_V2_BUFFER_SIZE
inline constexpr unsigned int kDriverBufferSize = 80;  // NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE
inline constexpr unsigned int kVbiosBufferSize = 32;   // NVML_DEVICE_VBIOS_VERSION_BUFFER_SIZE
inline constexpr unsigned int kProcessNameSize = 256;  // ours: NVML names none

// The functions, by their exported symbol names. All are C functions returning Return.
extern "C" {
using InitFn = Return (*)();                         // nvmlInit_v2
using ShutdownFn = Return (*)();                     // nvmlShutdown
using ErrorStringFn = const char* (*)(Return);       // nvmlErrorString
using DeviceGetCountFn = Return (*)(unsigned int*);  // nvmlDeviceGetCount_v2
using DeviceGetHandleByIndexFn = Return (*)(unsigned int,
                                            Device*);               // nvmlDeviceGetHandleByIndex_v2
using DeviceGetStringFn = Return (*)(Device, char*, unsigned int);  // Name, UUID, VbiosVersion
using SystemGetStringFn = Return (*)(char*, unsigned int);          // nvmlSystemGetDriverVersion
using SystemGetCudaVersionFn = Return (*)(int*);  // nvmlSystemGetCudaDriverVersion_v2
using DeviceGetUintFn = Return (*)(Device,
                                   unsigned int*);    // PowerUsage, limits, PCIe link, MIG ids
using DeviceGetIntEnumFn = Return (*)(Device, int*);  // ComputeMode, PerformanceState
using DeviceGetUllFn = Return (*)(Device, unsigned long long*);  // energy, clock event reasons
using DeviceGetMigModeFn = Return (*)(Device, unsigned int*,
                                      unsigned int*);                   // nvmlDeviceGetMigMode
using DeviceGetClockFn = Return (*)(Device, int, unsigned int*);        // ClockInfo, MaxClockInfo
using DeviceGetTemperatureFn = Return (*)(Device, int, unsigned int*);  // nvmlDeviceGetTemperature
using DeviceGetUtilizationFn = Return (*)(Device, Utilization*);  // nvmlDeviceGetUtilizationRates
using DeviceGetCodecUtilFn = Return (*)(Device, unsigned int*,
                                        unsigned int*);     // Encoder/DecoderUtilization
using DeviceGetMemoryFn = Return (*)(Device, Memory*);      // nvmlDeviceGetMemoryInfo
using DeviceGetMemoryV2Fn = Return (*)(Device, MemoryV2*);  // nvmlDeviceGetMemoryInfo_v2
using DeviceGetViolationFn = Return (*)(Device, int,
                                        ViolationTime*);  // nvmlDeviceGetViolationStatus
using DeviceGetEccFn = Return (*)(Device, int, int,
                                  unsigned long long*);  // nvmlDeviceGetTotalEccErrors
using DeviceGetRemappedRowsFn = Return (*)(Device, unsigned int*, unsigned int*, unsigned int*,
                                           unsigned int*);  // nvmlDeviceGetRemappedRows
using DeviceGetRetiredPagesFn = Return (*)(Device, int, unsigned int*,
                                           unsigned long long*);  // nvmlDeviceGetRetiredPages
using DeviceGetPcieThroughputFn = Return (*)(Device, int,
                                             unsigned int*);          // nvmlDeviceGetPcieThroughput
using DeviceGetFieldValuesFn = Return (*)(Device, int, FieldValue*);  // nvmlDeviceGetFieldValues
using DeviceGetProcessesFn = Return (*)(Device, unsigned int*,
                                        ProcessInfo*);  // nvmlDeviceGetComputeRunningProcesses_v3
using SystemGetProcessNameFn = Return (*)(unsigned int, char*,
                                          unsigned int);  // nvmlSystemGetProcessName
using DeviceGetMigDeviceFn = Return (*)(Device, unsigned int,
                                        Device*);  // nvmlDeviceGetMigDeviceHandleByIndex
using EventSetCreateFn = Return (*)(EventSet*);    // nvmlEventSetCreate
using DeviceRegisterEventsFn = Return (*)(Device, unsigned long long,
                                          EventSet);  // nvmlDeviceRegisterEvents
using DeviceGetSupportedEventTypesFn = Return (*)(Device, unsigned long long*);
using EventSetWaitFn = Return (*)(EventSet, EventData*, unsigned int);  // nvmlEventSetWait_v2 (ms)
using EventSetFreeFn = Return (*)(EventSet);                            // nvmlEventSetFree
}

}  // namespace metricsd::tools::nvml
