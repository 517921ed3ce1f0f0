package cuda

import (
	"fmt"
	"unsafe"
)

// Device attributes (CUdevice_attribute) this package reads.
const (
	attrMaxThreadsPerBlock     = 1
	attrMaxSharedPerBlock      = 8
	attrWarpSize               = 10
	attrClockRate              = 13
	attrMultiprocessorCount    = 16
	attrPCIBusID               = 33
	attrMemoryClockRate        = 36
	attrGlobalMemoryBusWidth   = 37
	attrL2CacheSize            = 38
	attrComputeCapabilityMajor = 75
	attrComputeCapabilityMinor = 76
	attrMaxSharedPerBlockOptin = 97
)

// Device describes one CUDA device.
type Device struct {
	Ordinal      int    // index among the devices the driver sees
	Name         string // such as "NVIDIA H100 80GB HBM3"
	Major, Minor int    // compute capability, such as 9 and 0
	SMs          int    // streaming multiprocessors
	TotalMemory  int64  // bytes of device memory
	PCIBusID     int

	MaxThreadsPerBlock     int
	MaxSharedPerBlock      int // bytes of static shared memory per block
	MaxSharedPerBlockOptin int // bytes of shared memory a kernel may opt in to
	WarpSize               int
	ClockKHz               int // peak SM clock
	MemoryClockKHz         int
	MemoryBusWidth         int // bits
	L2CacheBytes           int

	drv    *Driver
	handle int32 // CUdevice
}

// String returns a one-line description such as
// "0: NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, 79.1 GiB)".
func (dev *Device) String() string {
	return fmt.Sprintf("%d: %s (sm_%d%d, %d SMs, %.1f GiB)", dev.Ordinal, dev.Name, dev.Major, dev.Minor, dev.SMs, float64(dev.TotalMemory)/(1<<30))
}

// Driver returns the driver the device belongs to.
func (dev *Device) Driver() *Driver { return dev.drv }

// cc returns the compute capability as one number: 10·Major + Minor.
func (dev *Device) cc() int { return 10*dev.Major + dev.Minor }

// DeviceCount returns the number of CUDA devices the driver sees.
func (d *Driver) DeviceCount() (int, error) {
	var n int32
	if err := d.check("cuDeviceGetCount", d.call(d.fn.cuDeviceGetCount, uintptr(unsafe.Pointer(&n)))); err != nil {
		return 0, err
	}
	return int(n), nil
}

// Device returns the device with the given ordinal. An ordinal out of
// range gives an error that matches ErrNoDevice.
func (d *Driver) Device(ordinal int) (*Device, error) {
	n, err := d.DeviceCount()
	if err != nil {
		return nil, err
	}
	if ordinal < 0 || ordinal >= n {
		return nil, &Error{Op: "cuDeviceGet", Code: ErrorInvalidDevice, Name: ErrorInvalidDevice.String(),
			Text:     fmt.Sprintf("device %d requested, the driver sees %d device(s) (ordinals 0 to %d; check CUDA_VISIBLE_DEVICES and nvidia-smi)", ordinal, n, n-1),
			sentinel: ErrNoDevice, Free: -1, Version: d.version}
	}
	var h int32
	if err := d.check("cuDeviceGet", d.call(d.fn.cuDeviceGet, uintptr(unsafe.Pointer(&h)), uintptr(ordinal))); err != nil {
		return nil, err
	}
	dev := &Device{Ordinal: ordinal, drv: d, handle: h}
	var name [256]byte
	if err := d.check("cuDeviceGetName", d.call(d.fn.cuDeviceGetName, uintptr(unsafe.Pointer(&name[0])), uintptr(len(name)), uintptr(h))); err != nil {
		return nil, err
	}
	dev.Name = cString(&name[0])
	var total uint64
	if err := d.check("cuDeviceTotalMem_v2", d.call(d.fn.cuDeviceTotalMem, uintptr(unsafe.Pointer(&total)), uintptr(h))); err != nil {
		return nil, err
	}
	dev.TotalMemory = int64(total)
	for _, a := range []struct {
		attr int
		dst  *int
	}{
		{attrComputeCapabilityMajor, &dev.Major},
		{attrComputeCapabilityMinor, &dev.Minor},
		{attrMultiprocessorCount, &dev.SMs},
		{attrPCIBusID, &dev.PCIBusID},
		{attrMaxThreadsPerBlock, &dev.MaxThreadsPerBlock},
		{attrMaxSharedPerBlock, &dev.MaxSharedPerBlock},
		{attrMaxSharedPerBlockOptin, &dev.MaxSharedPerBlockOptin},
		{attrWarpSize, &dev.WarpSize},
		{attrClockRate, &dev.ClockKHz},
		{attrMemoryClockRate, &dev.MemoryClockKHz},
		{attrGlobalMemoryBusWidth, &dev.MemoryBusWidth},
		{attrL2CacheSize, &dev.L2CacheBytes},
	} {
		var v int32
		if err := d.check("cuDeviceGetAttribute", d.call(d.fn.cuDeviceGetAttribute, uintptr(unsafe.Pointer(&v)), uintptr(a.attr), uintptr(h))); err != nil {
			return nil, err
		}
		*a.dst = int(v)
	}
	return dev, nil
}

// Devices returns every device the driver sees.
func (d *Driver) Devices() ([]*Device, error) {
	n, err := d.DeviceCount()
	if err != nil {
		return nil, err
	}
	devs := make([]*Device, n)
	for i := range devs {
		if devs[i], err = d.Device(i); err != nil {
			return nil, err
		}
	}
	return devs, nil
}

// Open loads the driver (see Load) and returns the primary context of
// device ordinal, the usual way to start. The error says what is missing:
// it matches ErrNoDriver, ErrNoDevice or ErrDriverMismatch.
func Open(ordinal int) (*Context, error) {
	d, err := Load()
	if err != nil {
		return nil, err
	}
	return d.Open(ordinal)
}

// Open returns the primary context of device ordinal of driver d, as the
// package's Open does with the default driver; use it with a driver of
// LoadLibrary.
func (d *Driver) Open(ordinal int) (*Context, error) {
	dev, err := d.Device(ordinal)
	if err != nil {
		return nil, err
	}
	return dev.NewContext()
}

// Probe reports whether a CUDA driver and device ordinal are usable,
// without keeping anything: nil, or the error Open would give.
func Probe(ordinal int) error {
	d, err := Load()
	if err != nil {
		return err
	}
	_, err = d.Device(ordinal)
	return err
}
