import Digest
import Testing

/// SHA-256 against the known answers of FIPS 180-4's examples (and NIST's one-million-'a' vector).
@Suite struct SHA256Tests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        ),
    ])
    func knownAnswers(message: String, expected: String) throws {
        let digest = try SHA256.digest(Array(message.utf8))
        #expect(digest.count == SHA256.byteCount)
        #expect(SHA256.hex(digest) == expected)
    }

    @Test func incrementalUpdatesEqualOneBuffer() throws {
        let hash = try SHA256()
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 1000)
        for _ in 0..<1000 { try hash.update(chunk) }
        try hash.update([])
        #expect(SHA256.hex(try hash.finish()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func hexIsLowerCaseTwoDigitsPerByte() {
        #expect(SHA256.hex([0x00, 0x0f, 0xa0, 0xff]) == "000fa0ff")
        #expect(SHA256.hex([]) == "")
    }
}
