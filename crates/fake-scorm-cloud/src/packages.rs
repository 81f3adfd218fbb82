//! Packages for tests and try-outs: a minimal SCORM 1.2 package and the
//! stored (uncompressed) ZIP writer it is made with.

use crate::xml::esc;

/// A minimal SCORM 1.2 package (a ZIP, entries stored) whose manifest has this
/// title, for tests and try-outs.
pub fn package(title: &str) -> Vec<u8> {
    let manifest = format!(
        "<?xml version=\"1.0\"?><manifest identifier=\"m\" version=\"1\"><metadata><schema>ADL SCORM</schema><schemaversion>1.2</schemaversion></metadata>\
         <organizations default=\"o\"><organization identifier=\"o\"><title>{}</title><item identifier=\"i\" identifierref=\"r\"><title>Lesson</title></item></organization></organizations>\
         <resources><resource identifier=\"r\" type=\"webcontent\" adlcp:scormtype=\"sco\" href=\"index.html\"><file href=\"index.html\"/></resource></resources></manifest>",
        esc(title)
    );
    zip(&[
        ("imsmanifest.xml", manifest.as_bytes()),
        (
            "index.html",
            b"<!doctype html><title>Lesson</title><p>Hello</p>",
        ),
    ])
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A ZIP archive with these entries, stored (not compressed).
pub fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    let le16 = |v: &mut Vec<u8>, n: u16| v.extend_from_slice(&n.to_le_bytes());
    let le32 = |v: &mut Vec<u8>, n: u32| v.extend_from_slice(&n.to_le_bytes());
    for (name, data) in entries {
        let offset = u32::try_from(out.len()).unwrap_or(u32::MAX);
        let crc = crc32(data);
        let size = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let name_len = u16::try_from(name.len()).unwrap_or(u16::MAX);
        le32(&mut out, 0x0403_4b50);
        for n in [20u16, 0, 0, 0, 0] {
            le16(&mut out, n);
        }
        le32(&mut out, crc);
        le32(&mut out, size);
        le32(&mut out, size);
        le16(&mut out, name_len);
        le16(&mut out, 0);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        le32(&mut central, 0x0201_4b50);
        for n in [20u16, 20, 0, 0, 0, 0] {
            le16(&mut central, n);
        }
        le32(&mut central, crc);
        le32(&mut central, size);
        le32(&mut central, size);
        le16(&mut central, name_len);
        for n in [0u16, 0, 0, 0] {
            le16(&mut central, n);
        }
        le32(&mut central, 0);
        le32(&mut central, offset);
        central.extend_from_slice(name.as_bytes());
    }
    let cd_offset = u32::try_from(out.len()).unwrap_or(u32::MAX);
    let cd_size = u32::try_from(central.len()).unwrap_or(u32::MAX);
    let count = u16::try_from(entries.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&central);
    le32(&mut out, 0x0605_4b50);
    for n in [0u16, 0, count, count] {
        le16(&mut out, n);
    }
    le32(&mut out, cd_size);
    le32(&mut out, cd_offset);
    le16(&mut out, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::inspect_package;

    #[test]
    fn crc32_of_a_known_string() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn packages_are_zips_with_a_manifest() {
        let p = package("Golf & Putting");
        assert!(p.starts_with(b"PK\x03\x04"));
        assert_eq!(
            inspect_package(&p),
            Ok(("Golf & Putting".to_owned(), vec![]))
        );
        assert!(inspect_package(b"not a zip").is_err());
    }
}
