/// Decoding for the ISO-8859-1 (Latin-1) text of MovieLens 100K and 1M.
///
/// In Latin-1 every byte is the Unicode scalar of the same value, so decoding cannot fail.
/// A field that is valid UTF-8 with non-ASCII characters is taken as UTF-8 instead: a
/// re-encoded copy of a dataset then reads right too, and real Latin-1 text (`Mis\u{E9}rables`
/// is the bytes `E9 72`) is almost never valid UTF-8.
enum Latin1 {
    /// `bytes` as Latin-1, or as UTF-8 when they are valid non-ASCII UTF-8.
    static func decode(_ bytes: ArraySlice<UInt8>) -> String {
        guard bytes.contains(where: { $0 >= 0x80 }) else { return String(decoding: bytes, as: UTF8.self) }
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        return strict(bytes)
    }

    /// `bytes` as Latin-1, whatever they are.
    static func strict(_ bytes: ArraySlice<UInt8>) -> String {
        var utf8: [UInt8] = []
        utf8.reserveCapacity(bytes.count + bytes.count / 4)
        for b in bytes {
            if b < 0x80 {
                utf8.append(b)
            } else {
                utf8.append(0xC0 | (b >> 6))
                utf8.append(0x80 | (b & 0x3F))
            }
        }
        return String(decoding: utf8, as: UTF8.self)
    }
}
