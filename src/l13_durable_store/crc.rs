//! CRC-32 as zlib, PNG and Ethernet compute it (CRC-32/ISO-HDLC), written out
//! by hand: the checksum every frame of the log carries.

// ANCHOR: crc32
/// The CRC-32/ISO-HDLC polynomial 0x04C11DB7, bit-reversed, because this CRC
/// reads each byte from its least significant bit.
const POLYNOMIAL: u32 = 0xEDB8_8320;

/// One entry per byte value: the CRC register after shifting that byte
/// through it. Built once, at compile time.
const TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut byte = 0;
    while byte < 256 {
        let mut crc = byte as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ POLYNOMIAL
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[byte] = crc;
        byte += 1;
    }
    table
};

/// The CRC-32 of `bytes`: the register starts at all ones, takes one table
/// lookup per byte, and is inverted at the end. `crc32(b"123456789")` is
/// `0xCBF43926`, the check value of the CRC catalogue; `crc32(b"")` is 0.
pub fn crc32(bytes: &[u8]) -> u32 {
    crc32_of(&[bytes])
}

/// The CRC-32 of several slices, as if they were one: a frame's checksum
/// covers its length and its kind and payload, which are not next to each
/// other in the frame.
pub fn crc32_of(parts: &[&[u8]]) -> u32 {
    let mut crc = u32::MAX;
    for part in parts {
        for &byte in *part {
            crc = (crc >> 8) ^ TABLE[usize::from((crc as u8) ^ byte)];
        }
    }
    !crc
}
// ANCHOR_END: crc32
