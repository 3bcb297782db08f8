/// GPT-2's pre-tokenization, hand-written over UTF-8 bytes. It yields exactly the matches of the regex
/// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+` that `tokenizers`' ByteLevel
/// pre-tokenizer (use_regex: true) applies, without a regex engine in the hot path (see the benchmark test).
enum GPT2PreTokenizer {
    enum CharacterClass: UInt8 {
        case letter, number, whitespace, other
    }

    /// Classes of the ASCII bytes, so the common case needs no Unicode property lookup.
    private static let asciiClasses: [CharacterClass] = (0..<128).map { byte in
        classify(Unicode.Scalar(UInt8(byte)))
    }

    static func classify(_ scalar: Unicode.Scalar) -> CharacterClass {
        let properties = scalar.properties
        if properties.isWhitespace { return .whitespace }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return .number
        default:
            return .other
        }
    }

    /// The class and byte length of the character starting at `index` (a lead byte of valid UTF-8).
    @inline(__always)
    static func character(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> (CharacterClass, Int) {
        let lead = bytes[index]
        if lead < 0x80 { return (asciiClasses[Int(lead)], 1) }
        let length: Int
        var value: UInt32
        switch lead {
        case 0xC0..<0xE0:
            length = 2
            value = UInt32(lead & 0x1F)
        case 0xE0..<0xF0:
            length = 3
            value = UInt32(lead & 0x0F)
        default:
            length = 4
            value = UInt32(lead & 0x07)
        }
        let available = min(length, bytes.count - index)
        for offset in 1..<available { value = value << 6 | UInt32(bytes[index + offset] & 0x3F) }
        guard available == length, let scalar = Unicode.Scalar(value) else { return (.other, available) }
        return (classify(scalar), length)
    }

    /// Calls `body` with the byte range of each pre-token of `bytes` (valid UTF-8), in order.
    static func forEachPreToken(_ bytes: UnsafeBufferPointer<UInt8>, _ body: (Range<Int>) -> Void) {
        let count = bytes.count
        var start = 0
        while start < count {
            let end = preTokenEnd(bytes, from: start)
            body(start..<end)
            start = end
        }
    }

    private static func preTokenEnd(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        let count = bytes.count
        let first = bytes[start]
        if first == UInt8(ascii: "'"), let length = contractionLength(bytes, at: start) { return start + length }
        var (firstClass, firstLength) = character(bytes, at: start)
        var runStart = start
        if first == UInt8(ascii: " "), start + 1 < count {
            // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: a single leading space joins the run after it.
            let (nextClass, nextLength) = character(bytes, at: start + 1)
            if nextClass != .whitespace {
                firstClass = nextClass
                firstLength = nextLength
                runStart = start + 1
            }
        }
        if firstClass != .whitespace {
            var end = runStart + firstLength
            while end < count {
                let (nextClass, nextLength) = character(bytes, at: end)
                guard nextClass == firstClass else { break }
                end += nextLength
            }
            return end
        }
        // `\s+(?!\S)` then `\s+`: a whitespace run, minus its last character when text follows it, so that
        // character can lead the next word (" world" stays one pre-token).
        var end = start + firstLength
        var lastStart = start
        while end < count {
            let (nextClass, nextLength) = character(bytes, at: end)
            guard nextClass == .whitespace else { break }
            lastStart = end
            end += nextLength
        }
        if end < count, lastStart > start { return lastStart }
        return end
    }

    /// 's 't 'm 'd (2 bytes) and 're 've 'll (3 bytes), case-sensitive as in GPT-2's pattern.
    private static func contractionLength(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> Int? {
        guard index + 1 < bytes.count else { return nil }
        let second = bytes[index + 1]
        switch second {
        case UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "d"):
            return 2
        case UInt8(ascii: "r"), UInt8(ascii: "v"), UInt8(ascii: "l"):
            guard index + 2 < bytes.count else { return nil }
            let third = bytes[index + 2]
            let expected = second == UInt8(ascii: "l") ? UInt8(ascii: "l") : UInt8(ascii: "e")
            return third == expected ? 3 : nil
        default:
            return nil
        }
    }
}
