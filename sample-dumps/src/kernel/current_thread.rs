//! The thread that was running when the system stopped: its KPCR / KPRCB, ETHREAD and
//! EPROCESS, written with Windows 10 19041 x64 layouts (the generator's own constants).

use super::paging::Machine;
use super::GenError;

/// The current thread's ETHREAD and KPCR in pool (the KPRCB is at +0x180 in the KPCR).
const CURRENT_ETHREAD_OFFSET: u64 = 0x2E00;
const KPCR_OFFSET: u64 = 0x3400;
/// Windows 10 19041 x64: EPROCESS UniqueProcessId and ImageFileName, ETHREAD Cid,
/// KTHREAD.ApcState.Process, KPRCB.CurrentThread, KPRCB within the KPCR, KPCR.Irql.
const W10_PID: u64 = 0x440;
const W10_IMAGE_NAME: u64 = 0x5A8;
const W10_CID: u64 = 0x478;
const W10_APC_PROCESS: u64 = 0xB8;
const W10_CURRENT_THREAD: u64 = 0x8;
const W10_PRCB_IN_PCR: u64 = 0x180;
const W10_IRQL: u64 = 0x50;

/// The thread that was running when the system stopped, and its process: written as a KPCR
/// with its KPRCB (reached through KiProcessorBlock), an ETHREAD and an EPROCESS. Windows 10
/// 19041 x64 layouts only, from the generator's own constants.
#[derive(Debug, Clone)]
pub(crate) struct CurrentThread {
    /// EPROCESS.ImageFileName (at most 15 bytes are written, as Windows keeps them).
    pub(crate) process: String,
    /// UniqueProcessId.
    pub(crate) pid: u64,
    /// UniqueThread.
    pub(crate) tid: u64,
    /// KPCR.Irql.
    pub(crate) irql: u8,
}

/// The KPCR / KPRCB, ETHREAD and EPROCESS of the running thread, every processor's
/// KiProcessorBlock slot pointing at the one KPRCB. The caller checks the layouts apply
/// (Windows 10 19041 x64).
pub(crate) fn write_current(
    m: &mut Machine,
    c: &CurrentThread,
    pool_va: u64,
    processors: u32,
    processor_block: u64,
    eprocess: u64,
) -> Result<(), GenError> {
    let ethread = pool_va + CURRENT_ETHREAD_OFFSET;
    let pcr = pool_va + KPCR_OFFSET;
    let prcb = pcr + W10_PRCB_IN_PCR;
    let mut name = [0u8; 15];
    // Windows keeps 14 characters and the terminating NUL.
    for (slot, b) in name.iter_mut().zip(c.process.bytes().take(14)) {
        *slot = b;
    }
    m.write(eprocess, &[3u8])?; // ProcessObject
    m.write_ptr(eprocess + W10_PID, c.pid)?;
    m.write(eprocess + W10_IMAGE_NAME, &name)?;
    m.write(ethread, &[6u8])?; // ThreadObject
    m.write_ptr(ethread + W10_APC_PROCESS, eprocess)?;
    m.write_ptr(ethread + W10_CID, c.pid)?;
    m.write_ptr(ethread + W10_CID + 8, c.tid)?;
    m.write(pcr + W10_IRQL, &[c.irql])?;
    m.write_ptr(prcb + W10_CURRENT_THREAD, ethread)?;
    for i in 0..u64::from(processors.clamp(1, 4)) {
        m.write_ptr(processor_block + 8 * i, prcb)?;
    }
    Ok(())
}
