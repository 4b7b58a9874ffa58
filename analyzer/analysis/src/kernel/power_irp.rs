//! Stop 0x9F sub-code 3 (DRIVER_POWER_STATE_FAILURE: a device object has been blocking an IRP
//! for too long): the driver of the physical device object P2 names, and the driver owning the
//! blocked IRP P4, read through dump memory as `!devobj` and `!irp` show them.
//!
//! Offsets (x64 / x86), stable across Windows 7 to 11 (public type information):
//! DEVICE_OBJECT.DriverObject 0x8 / 0x8; DRIVER_OBJECT.DriverStart 0x18 / 0xC and
//! DriverName (UNICODE_STRING) 0x38 / 0x1C; IRP.Tail.Overlay.CurrentStackLocation 0xB8 / 0x60;
//! IO_STACK_LOCATION.DeviceObject 0x28 / 0x14.

use kernel_dump::header::Width;
use kernel_dump::virtual_memory::VirtualRead;
use kernel_dump::KernelDump;
use signatures::module_selection::PowerIrpFacts;
use signatures::stop_codes::base_code;

/// Longest driver name read (characters).
const MAX_NAME_CHARS: u64 = 64;

struct Offsets {
    driver_object: u64,
    driver_start: u64,
    driver_name: u64,
    current_stack_location: u64,
    stack_device_object: u64,
}

const X64: Offsets = Offsets {
    driver_object: 0x8,
    driver_start: 0x18,
    driver_name: 0x38,
    current_stack_location: 0xB8,
    stack_device_object: 0x28,
};

const X86: Offsets = Offsets {
    driver_object: 0x8,
    driver_start: 0xC,
    driver_name: 0x1C,
    current_stack_location: 0x60,
    stack_device_object: 0x14,
};

struct Reader<'d, 'a> {
    dump: &'d KernelDump<'a>,
    width: Width,
}

impl Reader<'_, '_> {
    fn ptr(&self, va: u64) -> Option<u64> {
        let mem = self.dump.memory();
        let v = match self.width {
            Width::Bits64 => mem.read_u64(va).ok()?,
            Width::Bits32 => u64::from(mem.read_u32(va).ok()?),
        };
        (v != 0).then_some(v)
    }

    /// A UNICODE_STRING's text: Length (bytes), MaximumLength, then the buffer pointer.
    fn unicode(&self, va: u64) -> Option<String> {
        let mut len = [0u8; 2];
        self.dump.read_virtual(va, &mut len).ok()?;
        let len = u64::from(u16::from_le_bytes(len)).min(MAX_NAME_CHARS * 2) & !1;
        let buffer_at = match self.width {
            Width::Bits64 => 8,
            Width::Bits32 => 4,
        };
        let buffer = self.ptr(va.checked_add(buffer_at)?)?;
        let mut bytes = vec![0u8; usize::try_from(len).ok()?];
        self.dump.read_virtual(buffer, &mut bytes).ok()?;
        let units: Vec<u16> = bytes
            .chunks_exact(2)
            .filter_map(|c| c.try_into().ok().map(u16::from_le_bytes))
            .collect();
        let text = String::from_utf16_lossy(&units);
        (!text.is_empty()).then_some(text)
    }

    /// The driver of a device object: its name without `\Driver\` and its DriverStart.
    fn driver_of(&self, device: u64, o: &Offsets) -> Option<(String, Option<u64>)> {
        let driver = self.ptr(device.checked_add(o.driver_object)?)?;
        let name = self.unicode(driver.checked_add(o.driver_name)?)?;
        let short = name
            .rsplit('\\')
            .next()
            .filter(|s| !s.is_empty())
            .unwrap_or(&name)
            .to_owned();
        Some((short, self.ptr(driver.checked_add(o.driver_start)?)))
    }
}

/// The drivers of a Stop 0x9F sub-code 3, where the dump holds the structures; `None` for any
/// other stop code or sub-code.
pub(crate) fn power_irp(
    dump: &KernelDump<'_>,
    code: u32,
    parameters: [u64; 4],
    drivers: &[super::report::DriverRow],
) -> Option<PowerIrpFacts> {
    let [p1, p2, _, p4] = parameters;
    if base_code(code) != 0x9F || p1 != 3 {
        return None;
    }
    let width = dump.header().width;
    let o = match width {
        Width::Bits64 => &X64,
        Width::Bits32 => &X86,
    };
    let r = Reader { dump, width };
    let (device_driver, start) = r.driver_of(p2, o)?;
    let device_image = start
        .and_then(|s| drivers.iter().find(|m| s >= m.base && s - m.base < m.size))
        .map_or_else(|| format!("{device_driver}.sys"), |m| m.name.clone());
    let irp_owner = r
        .ptr(p4.checked_add(o.current_stack_location)?)
        .and_then(|isl| r.ptr(isl.checked_add(o.stack_device_object)?))
        .and_then(|device| r.driver_of(device, o))
        .map(|(name, _)| name);
    Some(PowerIrpFacts {
        device_driver,
        device_image,
        irp_owner,
    })
}
