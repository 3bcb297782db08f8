import Testing
import Wire

@testable import Cluster

/// What the router sends after a round of reads: each client's chunks, single or from several decoder steps, in one
/// message where its first chunk was; everything else, and each job's order, as it was.
@Suite struct ClientChunkMergeTests {
    @Test func aClientsChunksFromSeveralStepsLeaveInOneMessage() {
        let (x, y, decoder) = (PeerIdentity([1]), PeerIdentity([2]), PeerIdentity([3]))
        func chunk(_ id: String, _ token: Int32) -> TokenChunk { TokenChunk(requestID: id, ids: [token]) }
        let out = [
            Outgoing(link: .clients, peer: x, message: .tokenChunks([chunk("a", 1), chunk("b", 1)])),
            Outgoing(link: .decoders, peer: decoder, message: .credit(Credit(credits: 1))),
            Outgoing(link: .clients, peer: y, message: .tokenChunk(chunk("c", 1))),
            Outgoing(link: .clients, peer: x, message: .tokenChunks([chunk("a", 2), chunk("b", 2)])),
            Outgoing(link: .clients, peer: x, message: .tokenChunk(chunk("d", 1))),
            Outgoing(
                link: .clients, peer: x, message: .error(ErrorReply(code: .cancelled, message: "", requestID: "e"))),
        ]
        let merged = Outgoing.mergingClientChunks(out)
        #expect(merged.count == 4)
        #expect(merged.map(\.peer) == [x, decoder, y, x])
        guard case .tokenChunks(let list) = merged[0].message else {
            Issue.record("x's chunks are not one message: \(merged[0].message.kind)")
            return
        }
        #expect(list.map(\.requestID) == ["a", "b", "a", "b", "d"])
        #expect(list.map { $0.ids[0] } == [1, 1, 2, 2, 1])
        #expect(merged[2].message == .tokenChunk(chunk("c", 1)), "a single chunk stays as it was")
        #expect(merged[3].message.kind == .error)
    }
}
